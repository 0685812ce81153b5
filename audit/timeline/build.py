"""The explained timeline of an account (issue 8): what was done to the borrower, when, and why.

Sources (sources.py: the store, and the history of every run and child) become entries by the
rules (rules.py for store rows, messages.py for messages, merge.py where both speak), are
scrubbed of PII (scrub.py) and sorted. Built on demand, it is complete for closed workflows too
while the history is retained; after that the store's part remains and `history` says
"unavailable". Used by the API (`GET /v1/accounts/{loan_id}/timeline`) and the CLI
(`arrears timeline`), so they cannot disagree."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from audit.export import Chain, WorkflowNotFound, fetch_chain
from audit.timeline.entries import EPOCH, Timeline, TimelineEntry
from audit.timeline.merge import merge_payments, merge_promises, pauses
from audit.timeline.messages import inbound_entries, message_entries
from audit.timeline.notes import note_entries
from audit.timeline.rules import HOLD_ACTIONS, Context, store_entries
from audit.timeline.sources import (
    HistoryFacts,
    RunInfo,
    StoreRecords,
    read_history,
    read_store,
    strategy_from_files,
)
from store.engine import as_utc

# What a timeline built from the store alone lacks: these facts are only in the workflow's
# history (Temporal keeps it for the namespace's retention period, 30 days in docker-compose).
HISTORY_ONLY = (
    "holds and their release (kind, who, since/until)",
    "messages as they arrived: instalment changes, contact-info changes, hardship reports, "
    "reassignments, channel callbacks signalled to the workflow",
    "who recorded each promise, and promise or hold requests the workflow refused",
    "repeated payments counted once",
    "task outcomes no person recorded through the task queue (e.g. from a child workflow)",
    "the episode's opening, continue-as-new points and close (with the workflow's result)",
    "child workflows (restructuring, write-off) and their events",
    "the borrower's time zone (times are shown in UTC)",
)


def missing_without_history(store: StoreRecords) -> list[str]:
    """What a store-only timeline lacks. Holds are in the store for episodes recorded since
    patch arrears-4-hold-actions; an episode with hold actions has all of them there."""
    missing = list(HISTORY_ONLY)
    if any(row["kind"] in HOLD_ACTIONS for row in store.actions):
        missing = [m for m in missing if not m.startswith("holds and their release")]
    if store.account and store.account.get("timezone"):
        missing = [m for m in missing if not m.startswith("the borrower's time zone")]
    return missing


def run_at(runs: list[RunInfo], at: datetime) -> RunInfo | None:
    current = None
    for run in runs:
        if run.started_at <= at:
            current = run
    return current or (runs[0] if runs else None)


def close_reasons(entries: list[TimelineEntry], transitions: list[dict[str, Any]]) -> None:
    """The episode's close says why: the last transition before it."""
    ordered = sorted(transitions, key=lambda row: as_utc(row["at"]) or EPOCH)
    for entry in entries:
        if (
            entry.kind != "workflow"
            or entry.reason
            or "the episode's workflow" not in entry.summary
        ):
            continue
        last = [t for t in ordered if (as_utc(t["at"]) or EPOCH) <= entry.at]
        if last:
            final = last[-1]
            entry.reason = f"the account became {final['to_state']} at DPD {final['dpd']}" + (
                f": {final['reason']}" if final.get("reason") else ""
            )


async def build_timeline(client: Client | None, database_url: str, loan_id: str) -> Timeline | None:
    """The account's timeline, or None when neither the store nor Temporal knows the loan."""
    from workflows.contracts import workflow_id_for

    workflow_id = workflow_id_for(loan_id)
    store = await asyncio.to_thread(read_store, database_url, loan_id)
    chain: Chain | None = None
    if client is not None:
        # Unknown to Temporal (never started, or past retention) or Temporal unreachable: the
        # store's part stands alone and the answer says `history: unavailable`.
        with contextlib.suppress(WorkflowNotFound, RPCError):
            chain = await fetch_chain(client, workflow_id)
    if store.account is None and chain is None:
        return None
    facts = await read_history(client, chain) if client is not None and chain else HistoryFacts()
    fallback = store.account.get("strategy") if store.account else None
    # Without the history's strategy snapshot, the same version from the strategy files.
    pinned = strategy_from_files(fallback) if not facts.runs else None

    def strategy_at(at: datetime) -> tuple[str | None, dict[str, Any] | None]:
        run = run_at(facts.runs, at)
        return (run.strategy or fallback, run.strategy_data) if run else (fallback, pinned)

    for entry in facts.entries:
        if entry.strategy is None:
            entry.strategy = strategy_at(entry.at)[0]
    effects = {
        str(m.args[0].get("task_id")): str(m.result["effect"])
        for m in facts.messages
        if m.name == "task_outcome"
        and m.args
        and isinstance(m.args[0], dict)
        and isinstance(m.result, dict)
        and m.result.get("effect")
    }
    if facts.timezone is None and store.account and store.account.get("timezone"):
        facts.timezone = str(store.account["timezone"])  # the store keeps it since migration 0009
    context = Context(
        strategy_at=strategy_at,
        timezone=facts.timezone,
        deliveries={(str(o["episode"]), int(o["action_seq"])): o for o in store.outbound},
        pauses=pauses(store, facts.messages),
        effects=effects,
        withhold_notes=chain is None,
    )
    entries = [
        *facts.entries,
        *store_entries(store, context),
        *merge_payments(store, facts.messages, strategy_at),
        *merge_promises(store, facts.messages, strategy_at),
        *message_entries(store, facts.messages, strategy_at, facts.timezone),
        *note_entries(store.notes, strategy_at, context.withhold_notes),
    ]
    if chain is None:
        entries.extend(inbound_entries(store, strategy_at))
    close_reasons(entries, store.transitions)
    scrubber = facts.scrubber
    for row in store.outbound:
        scrubber.add_phone(row.get("to_number"))
    for row in store.inbound:
        scrubber.add_phone(row.get("from_number"))
    for entry in entries:
        scrubber.entry(entry)
    entries.sort(key=TimelineEntry.sort_key)
    latest = facts.runs[-1].strategy if facts.runs else None
    return Timeline(
        loan_id=loan_id,
        workflow_id=workflow_id,
        timezone=facts.timezone,
        state=store.account.get("state") if store.account else None,
        strategy=fallback or latest,
        history="complete" if chain is not None else "unavailable",
        missing=[] if chain is not None else missing_without_history(store),
        runs=len(chain.runs) if chain else 0,
        children=len(chain.children) if chain else 0,
        entries=entries,
    )
