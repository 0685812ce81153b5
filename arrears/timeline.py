"""The explained timeline of an account (issue 8): what was done to the borrower, when, and why.

Two sources, merged in time order:

- the store (written by the workflow's activities): transitions with their reason, every action
  with its detail (the ladder step, DPD, bucket, amounts; the compliance rule of a
  `contact_blocked`), payments as applied, promises and how they ended, tasks and their outcomes;
- the workflow history of every run of the episode and of its children, for what the store does
  not hold: each message as it arrived (payments including duplicates that counted once,
  instalment changes, contact events, holds, promise requests with who made them, task outcomes),
  the strategy version each run was pinned to, and the episode's start, continue-as-new points
  and close.

Built on demand from those two, it is complete for closed workflows too (while the history is
retained; after that the store's part remains and `history` says "unavailable"). Used by the API
(`GET /v1/accounts/{loan_id}/timeline`) and the CLI (`arrears timeline`).

Borrower PII stays out: entries carry loan ids, amounts, dates and rules, and anything taken from
a decoded payload passes through the log masker (phones, names, addresses).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment
from pydantic import BaseModel, Field, PrivateAttr
from sqlmodel import select
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from arrears.audit import Chain, RunHistory, WorkflowNotFound, fetch_chain
from arrears.logmask import mask
from store.engine import as_utc, session_scope
from store.models import AccountRow, ActionRow, PaymentRow, PromiseRow, TaskRow, TransitionRow

Source = Literal["store", "history"]

# Ladder actions that reach the borrower (or their address); everything else the workflow
# decides is a "decision" (tasks for people, credit records, placements, legal steps).
CONTACT_ACTIONS = frozenset(
    {"sms_reminder", "voice_reminder", "letter", "lawyer_letter", "email_reminder"}
)
HOLD_WORDS = ("hardship", "dispute", "complaint", "bankruptcy", "deceased", "cease", "hold")
# Same instant: the order a reader expects: what arrived, how the state moved, what the
# workflow did about it, and only then a continue-as-new or close.
KIND_RANK = {
    "payment": 1,
    "promise": 1,
    "outcome": 1,
    "hold": 1,
    "message": 1,
    "transition": 2,
    "decision": 3,
    "contact": 3,
    "contact_blocked": 3,
    "task": 3,
    "child": 4,
    "workflow": 5,
}


class TimelineEntry(BaseModel):
    """One thing that happened, with its business reason."""

    at: datetime
    kind: str = Field(
        description="transition · decision · contact · contact_blocked · message · payment · "
        "promise · hold · outcome · task · child · workflow"
    )
    summary: str
    reason: str | None = Field(default=None, description="why, in the workflow's words")
    rule: str | None = Field(
        default=None, description="the strategy step, bucket rule or compliance rule that decided"
    )
    strategy: str | None = Field(default=None, description="name@version in force at the time")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="what the decision saw: dpd, bucket, amounts, ..."
    )
    source: Source
    ref: str | None = Field(default=None, description="action seq, task id or history event")
    _rank: int | None = PrivateAttr(default=None)

    def sort_key(self) -> tuple[datetime, int]:
        return self.at, self._rank if self._rank is not None else KIND_RANK.get(self.kind, 9)


class Timeline(BaseModel):
    loan_id: str
    workflow_id: str
    timezone: str | None = Field(default=None, description="the borrower's, for local times")
    state: str | None = None
    strategy: str | None = None
    history: Literal["complete", "unavailable"] = "complete"
    runs: int = 0
    children: int = 0
    entries: list[TimelineEntry] = Field(default_factory=list)


# ------------------------------------------------------------------------------ the store


@dataclass
class StoreRecords:
    account: dict[str, Any] | None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def read_store(database_url: str, loan_id: str) -> StoreRecords:
    """Every row the read model holds for the account (all episodes)."""
    with session_scope(database_url) as session:
        account = session.get(AccountRow, loan_id)

        def rows(table: Any) -> list[dict[str, Any]]:
            found = session.exec(select(table).where(table.loan_id == loan_id)).all()
            return [row.model_dump() for row in found]

        return StoreRecords(
            account=account.model_dump() if account else None,
            transitions=rows(TransitionRow),
            actions=rows(ActionRow),
            payments=rows(PaymentRow),
            promises=rows(PromiseRow),
            tasks=rows(TaskRow),
        )


# ------------------------------------------------------------------------------ history


@dataclass
class RunInfo:
    run_id: str
    index: int
    started_at: datetime
    strategy: str | None
    strategy_data: dict[str, Any] | None


@dataclass
class Message:
    """A signal or update as it arrived, decoded."""

    at: datetime
    name: str
    kind: Literal["signal", "update"]
    args: list[Any]
    ref: str
    result: Any = None
    rejected: str | None = None


@dataclass
class HistoryFacts:
    timezone: str | None = None
    runs: list[RunInfo] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    entries: list[TimelineEntry] = field(default_factory=list)


def _at(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def _decode(client: Client, payloads: Payloads) -> list[Any]:
    """Payloads as plain JSON values; an undecodable one (a key this process lacks) says so
    instead of failing the whole timeline."""
    if not payloads.payloads:
        return []
    try:
        return list(await client.data_converter.decode(payloads.payloads))
    except Exception as exc:
        return [{"undecodable": f"{exc.__class__.__name__}: {exc}"}]


def _ref(run: RunHistory, event: HistoryEvent) -> str:
    return f"{run.workflow_id} run {run.index} event {event.event_id}"


async def read_history(client: Client, chain: Chain) -> HistoryFacts:
    facts = HistoryFacts()
    for run in chain.runs:
        await _read_run(client, run, facts, is_child=False)
    for child in chain.children:
        await _read_run(client, child, facts, is_child=True)
    return facts


async def _read_run(client: Client, run: RunHistory, facts: HistoryFacts, is_child: bool) -> None:
    accepted: dict[str, Message] = {}
    E = EventType
    for event in run.history.events:
        kind = event.event_type
        at = _at(event)
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            args = await _decode(client, attrs.input)
            first = args[0] if args and isinstance(args[0], dict) else {}
            strategy = first.get("strategy")
            strategy_data = strategy if isinstance(strategy, dict) else None
            ref = _strategy_ref(strategy_data)
            if is_child:
                continue  # the parent's "started ..." entry says it; the child's close follows
            facts.runs.append(RunInfo(run.run_id, run.index, at, ref, strategy_data))
            borrower = (first.get("account") or {}).get("borrower") or {}
            facts.timezone = facts.timezone or borrower.get("timezone")
            if not attrs.continued_execution_run_id:
                facts.entries.append(_opened(at, first, ref, run, event))
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            facts.entries.append(
                _history_entry(
                    at,
                    "workflow",
                    f"run {run.index} continued as new in run {run.index + 1}",
                    run,
                    event,
                    reason="a safe point (stage boundary or a long history): state carried over",
                )
            )
        elif kind in _CLOSES:
            facts.entries.append(await _closed(client, event, run, is_child))
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signaled = event.workflow_execution_signaled_event_attributes
            facts.messages.append(
                Message(
                    at,
                    signaled.signal_name,
                    "signal",
                    await _decode(client, signaled.input),
                    _ref(run, event),
                )
            )
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            admitted = event.workflow_execution_update_accepted_event_attributes
            request = admitted.accepted_request
            message = Message(
                at,
                request.input.name,
                "update",
                await _decode(client, request.input.args),
                _ref(run, event),
            )
            accepted[request.meta.update_id or admitted.protocol_instance_id] = message
            facts.messages.append(message)
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            found = accepted.get(completed.meta.update_id)
            if found is not None:
                if completed.outcome.HasField("success"):
                    values = await _decode(client, completed.outcome.success)
                    found.result = values[0] if values else None
                else:
                    found.rejected = completed.outcome.failure.message or "failed"
        elif kind == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            facts.entries.append(
                _history_entry(
                    at,
                    "child",
                    f"started {child.workflow_type.name} as {child.workflow_id}",
                    run,
                    event,
                )
            )
        elif kind in (E.EVENT_TYPE_ACTIVITY_TASK_FAILED, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            how = "timed out" if kind == E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT else "failed"
            facts.entries.append(
                _history_entry(at, "workflow", f"an activity {how} after its retries", run, event)
            )


_CLOSES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
}


def _history_entry(
    at: datetime,
    kind: str,
    summary: str,
    run: RunHistory,
    event: HistoryEvent,
    *,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask(reason) if reason else None,
        inputs=_masked(inputs or {}),
        source="history",
        ref=_ref(run, event),
    )


def _opened(
    at: datetime, account_input: dict[str, Any], ref: str | None, run: RunHistory, e: HistoryEvent
) -> TimelineEntry:
    account = account_input.get("account") or {}
    instalments = account.get("instalments") or []
    first_due = min((i.get("due_date", "") for i in instalments), default="")
    total = sum((Decimal(str(i.get("amount", "0"))) for i in instalments), Decimal(0))
    entry = _history_entry(
        at,
        "workflow",
        f"collection episode opened: {len(instalments)} unpaid instalment(s) totalling "
        f"{total} {account.get('currency', '')}, first due {first_due}",
        run,
        e,
        reason="the loan system reported the account one day before an instalment falls due",
        inputs={
            "segment": account.get("segment"),
            "currency": account.get("currency"),
            "first_due": first_due,
            "instalments": len(instalments),
            "amount_due": str(total),
            "jurisdiction": account.get("jurisdiction"),
        },
    )
    entry.strategy = ref
    entry._rank = 0  # the episode opens before anything at the same instant
    return entry


async def _closed(
    client: Client, event: HistoryEvent, run: RunHistory, is_child: bool
) -> TimelineEntry:
    how = _CLOSES.get(event.event_type, "closed")
    inputs: dict[str, Any] = {}
    reason = None
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        values = await _decode(client, event.workflow_execution_completed_event_attributes.result)
        result = values[0] if values else None
        if isinstance(result, dict):
            inputs = {
                k: result.get(k)
                for k in ("state", "dpd", "bucket", "amount_overdue", "paid_total", "balance")
                if k in result
            }
    elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        reason = event.workflow_execution_terminated_event_attributes.reason or None
    what = f"child {run.workflow_type} {run.workflow_id}" if is_child else "the episode's workflow"
    state = f": account {inputs['state']}" if inputs.get("state") else ""
    return _history_entry(
        _at(event),
        "child" if is_child else "workflow",
        f"{what} {how}{state}",
        run,
        event,
        reason=reason,
        inputs=inputs,
    )


def money(value: Any) -> str:
    """A decimal string as the contract writes money ("1200.00"): the store keeps four places."""
    amount = Decimal(str(value))
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount)


def _strategy_ref(data: dict[str, Any] | None) -> str | None:
    if not data or "name" not in data:
        return None
    return f"{data['name']}@{data.get('version')}"


# Identifiers, money and instants: never PII, and often all digits (a loan system's payment id)
# that the phone masker would otherwise eat.
NOT_PII = frozenset(
    {
        "payment_id",
        "promise_id",
        "task_id",
        "loan_id",
        "provider_id",
        "step_id",
        "template",
        "amount",
        "amount_overdue",
        "balance",
        "paid_at",
        "recorded_at",
        "at",
        "due_date",
        "promised_date",
        "first_due",
        "seq",
        "action_seq",
        "error_code",
    }
)


def _masked(value: Any, key: str | None = None) -> Any:
    """Decoded inputs as an auditor may read them in a report: free text and contact details
    masked (arrears.logmask), identifiers, money and dates as they are."""
    if key in NOT_PII:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    return value


# ------------------------------------------------------------------------------ merging


def _run_at(runs: list[RunInfo], at: datetime) -> RunInfo | None:
    current = None
    for run in runs:
        if run.started_at <= at:
            current = run
    return current or (runs[0] if runs else None)


def _step_rule(strategy: dict[str, Any] | None, step_id: str | None) -> str | None:
    if not step_id:
        return None
    for steps in ((strategy or {}).get("treatments") or {}).values():
        for step in steps or []:
            if step.get("id") == step_id:
                when = step.get("when", "always")
                condition = "" if when == "always" else f", only when {when.replace('_', ' ')}"
                return f"step {step_id}: {step.get('action')} at DPD {step.get('dpd')}{condition}"
    return f"step {step_id}"


def _range_rule(strategy: dict[str, Any] | None, table: str, name: str) -> str | None:
    for item in (strategy or {}).get(table) or []:
        if item.get("name") == name:
            upper = item.get("max")
            span = f"{item.get('min')}-{upper}" if upper is not None else f"{item.get('min')}+"
            return f"{table[:-1]} {name} = DPD {span}"
    return None


def _stage_at(strategy: dict[str, Any] | None, dpd: int) -> str | None:
    for item in (strategy or {}).get("stages") or []:
        upper = item.get("max")
        if item.get("min", 0) <= dpd and (upper is None or dpd <= upper):
            return str(item.get("name"))
    return None


def _transition_summary(row: dict[str, Any], stage: str | None) -> str:
    """ "pre_due → delinquent (current → M1) at DPD 1"; within collection, what moved:
    "M1 → M2 at DPD 30, stage mid_range"."""
    moved_bucket = row.get("from_bucket") != row["to_bucket"]
    if row.get("from_state") == row["to_state"]:
        what = f"{row['from_bucket']} → {row['to_bucket']}" if moved_bucket else "same bucket"
        where = f", stage {stage}" if stage else ""
        return f"{what} at DPD {row['dpd']}{where}"
    bucket = f" ({row['from_bucket']} → {row['to_bucket']})" if moved_bucket else ""
    return f"{row.get('from_state') or 'new'} → {row['to_state']}{bucket} at DPD {row['dpd']}"


def _transition_rule(
    row: dict[str, Any], strategy: dict[str, Any] | None, stage: str | None
) -> str:
    to_state = row["to_state"]
    if to_state == "paid_on_time":
        return "paid in full by the end of the due date (borrower's local day)"
    if to_state == "cured":
        return "amount overdue reached zero"
    if row.get("from_state") == "pre_due" and to_state == "delinquent":
        return "unpaid at the end of the due date (borrower's local day)"
    rules = [_range_rule(strategy, "buckets", row["to_bucket"]) or f"bucket {row['to_bucket']}"]
    if stage:
        rules.append(_range_rule(strategy, "stages", stage) or f"stage {stage}")
    return "; ".join(rules)


def _store_entries(
    store: StoreRecords, runs: list[RunInfo], fallback: str | None
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []

    def strategy_at(at: datetime) -> tuple[str | None, dict[str, Any] | None]:
        run = _run_at(runs, at)
        return (run.strategy or fallback, run.strategy_data) if run else (fallback, None)

    for row in store.transitions:
        at = as_utc(row["at"])
        assert at is not None
        ref, data = strategy_at(at)
        stage = _stage_at(data, row["dpd"]) if row["to_state"] == "delinquent" else None
        entries.append(
            TimelineEntry(
                at=at,
                kind="transition",
                summary=_transition_summary(row, stage),
                reason=row.get("reason") or None,
                rule=_transition_rule(row, data, stage),
                strategy=ref,
                inputs={
                    "dpd": row["dpd"],
                    "from_state": row.get("from_state"),
                    "to_state": row["to_state"],
                    "from_bucket": row.get("from_bucket"),
                    "bucket": row["to_bucket"],
                    "stage": stage,
                },
                source="store",
                ref=f"transition {row['seq']}",
            )
        )
    for row in store.actions:
        entries.append(_action_entry(row, *strategy_at(as_utc(row["at"]) or _EPOCH)))
    for row in store.tasks:
        entry = _task_entry(row, strategy_at)
        if entry is not None:
            entries.append(entry)
    return entries


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _action_entry(
    row: dict[str, Any], ref: str | None, data: dict[str, Any] | None
) -> TimelineEntry:
    detail: dict[str, Any] = dict(row.get("detail") or {})
    action = row["kind"]
    channel = row.get("channel") or ""
    if action == "contact_blocked":
        kind = "contact_blocked"
        blocked = detail.get("action") or detail.get("blocked_kind") or "contact"
        until = detail.get("rescheduled_to") or detail.get("next_allowed") or detail.get("until")
        summary = f"{str(blocked).replace('_', ' ')} via {channel} refused by the compliance gate"
        if until:
            summary += f"; rescheduled to {until}"
    else:
        kind = "contact" if action in CONTACT_ACTIONS else "decision"
        via = f" via {channel}" if channel and channel != "internal" else ""
        template = f" ({detail['template']})" if detail.get("template") else ""
        summary = f"{action.replace('_', ' ')}{via}{template}: {row.get('status')}"
        if detail.get("task_id"):
            summary += f", task {detail['task_id']}"
    inputs = {
        k: detail[k]
        for k in (
            "dpd",
            "bucket",
            "amount_overdue",
            "currency",
            "broken_promises",
            "promise_id",
            "error_code",
            "provider_id",
        )
        if detail.get(k) is not None
    }
    inputs.update({"stage": row.get("stage"), "channel": channel, "status": row.get("status")})
    rule = detail.get("rule") or _step_rule(data, detail.get("step_id"))
    return TimelineEntry(
        at=as_utc(row["at"]) or _EPOCH,
        kind=kind,
        summary=summary,
        reason=mask(str(detail["reason"])) if detail.get("reason") else None,
        rule=str(rule) if rule else None,
        strategy=ref,
        inputs=_masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


def _task_entry(row: dict[str, Any], strategy_at: Any) -> TimelineEntry | None:
    """A task's end: its outcome (when a person reported one) or why it closed without one."""
    closed = as_utc(row.get("closed_at"))
    outcome = row.get("outcome")
    if closed is None and not outcome:
        return None
    at = closed or as_utc(row.get("created_at")) or _EPOCH
    detail = row.get("detail") or {}
    if outcome:
        code = outcome.get("outcome", "reported")
        by = outcome.get("recorded_by") or row.get("assignee")
        summary = f"{row['kind']} task outcome: {str(code).replace('_', ' ')}"
        summary += f" (by {by})" if by else ""
        kind = "outcome"
    else:
        summary = f"{row['kind']} task {row.get('status')}"
        kind = "task"
    ref, _data = strategy_at(at)
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=_task_reason(row, outcome, detail),
        strategy=ref,
        inputs=_masked(
            {
                "task_id": row["task_id"],
                "dpd": detail.get("dpd"),
                "stage": detail.get("stage"),
                "amount_overdue": detail.get("amount_overdue"),
                **({"outcome": outcome} if outcome else {}),
            }
        ),
        source="store",
        ref=f"task {row['task_id']}",
    )


def _task_reason(
    row: dict[str, Any], outcome: dict[str, Any] | None, detail: dict[str, Any]
) -> str | None:
    if outcome:
        said = outcome.get("reason") or outcome.get("notes")
        return mask(str(said)) if said else None
    closed = detail.get("closed_reason")
    return str(closed) if closed else f"closed as {row.get('status')} without an outcome"


def _merge_payments(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """One entry per payment as applied (store), with when it arrived (history); a repeat of the
    same payment_id appears as received-and-counted-once; a payment the store never recorded
    (the account was closed, or the store lost it) appears from history alone."""
    entries: list[TimelineEntry] = []
    applied = {p["payment_id"]: p for p in store.payments}
    seen: set[str] = set()
    for message in (m for m in messages if m.name == "payment" and m.kind == "signal"):
        body = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        payment_id = str(body.get("payment_id", "?"))
        amount = body.get("amount")
        ref, _ = strategy_at(message.at)
        if payment_id in seen or payment_id not in applied:
            repeat = payment_id in seen
            entries.append(
                TimelineEntry(
                    at=message.at,
                    kind="payment",
                    summary=(
                        f"payment {payment_id} of {amount} received again: counted once"
                        if repeat
                        else f"payment {payment_id} of {amount} received; not applied"
                    ),
                    reason="a repeated payment_id is counted once"
                    if repeat
                    else "the account was no longer in collection, or the store lacks it",
                    strategy=ref,
                    inputs=_masked(body),
                    source="history",
                    ref=message.ref,
                )
            )
            seen.add(payment_id)
            continue
        seen.add(payment_id)
        row = applied.pop(payment_id)
        entries.append(_payment_entry(row, message, ref))
    for row in applied.values():  # in the store, not in (retained) history
        at = as_utc(row["paid_at"]) or _EPOCH
        entries.append(_payment_entry(row, None, strategy_at(at)[0]))
    return entries


def _payment_entry(row: dict[str, Any], message: Message | None, ref: str | None) -> TimelineEntry:
    at = message.at if message else (as_utc(row["paid_at"]) or _EPOCH)
    paid_at = as_utc(row["paid_at"])
    return TimelineEntry(
        at=at,
        kind="payment",
        summary=f"payment {row['payment_id']} of {money(row['amount'])} applied; DPD now "
        f"{row['dpd']} (bucket {row['bucket']})",
        reason="reported by the loan system",
        rule="allocated by the strategy's allocation order (penalty or principal first)",
        strategy=ref,
        inputs={
            "payment_id": row["payment_id"],
            "amount": money(row["amount"]),
            "paid_at": paid_at.isoformat() if paid_at else None,
            "dpd": row["dpd"],
            "bucket": row["bucket"],
        },
        source="store",
        ref=message.ref if message else f"payment {row['payment_id']}",
    )


def _merge_promises(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """A promise made (store, plus who recorded it from the update in history) and how it ended
    (kept, broken, ...), each at its own moment."""
    requests: dict[str, Message] = {}
    for message in messages:
        if message.kind == "update" and isinstance(message.result, dict):
            promise_id = message.result.get("promise_id")
            if promise_id:
                requests[str(promise_id)] = message
    entries: list[TimelineEntry] = []
    for row in store.promises:
        request = requests.pop(row["promise_id"], None)
        made = request.at if request else (as_utc(row.get("made_at")) or _EPOCH)
        body = request.args[0] if request and request.args else {}
        by = body.get("recorded_by") if isinstance(body, dict) else None
        ref, data = strategy_at(made)
        rules = (data or {}).get("promises") or {}
        entries.append(
            TimelineEntry(
                at=made,
                kind="promise",
                summary=f"promise {row['promise_id']}: {money(row['amount'])} by "
                f"{row['promised_date']}" + (f" (recorded by {by})" if by else ""),
                reason=_promise_reason(request, body),
                rule=(
                    f"at most {rules.get('max_days_ahead')} days ahead, judged "
                    f"{rules.get('grace_days')} day(s) after, {rules.get('tolerance_pct')} "
                    "tolerance"
                )
                if rules
                else None,
                strategy=ref,
                inputs=_masked(
                    {
                        "promise_id": row["promise_id"],
                        "amount": money(row["amount"]),
                        "promised_date": str(row["promised_date"]),
                        "pay_to": row.get("pay_to"),
                        "recorded_by": by,
                        "supervisor_override": body.get("supervisor_override")
                        if isinstance(body, dict)
                        else None,
                    }
                ),
                source="store",
                ref=request.ref if request else f"promise {row['promise_id']}",
            )
        )
        resolved = as_utc(row.get("resolved_at"))
        if row.get("status") not in (None, "open") and resolved is not None:
            entries.append(
                TimelineEntry(
                    at=resolved,
                    kind="promise",
                    summary=f"promise {row['promise_id']} {row['status']}",
                    reason=f"judged at the end of {row['promised_date']} plus the grace days",
                    strategy=strategy_at(resolved)[0],
                    inputs={"promise_id": row["promise_id"], "status": row["status"]},
                    source="store",
                    ref=f"promise {row['promise_id']}",
                )
            )
    return entries


def _promise_reason(request: Message | None, body: Any) -> str | None:
    if request is None:
        return None
    if request.name == "task_outcome":
        return "the borrower promised during a task (call or visit outcome)"
    override = isinstance(body, dict) and body.get("supervisor_override")
    return "promise to pay recorded by a " + ("supervisor" if override else "collector")


def _message_entries(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """Everything that arrived and is not a payment or a store-recorded promise."""
    tasks_with_outcome = {t["task_id"] for t in store.tasks if t.get("outcome")}
    promised = {p["promise_id"] for p in store.promises}
    entries = []
    for message in messages:
        if message.name == "payment" and message.kind == "signal":
            continue
        result = message.result if isinstance(message.result, dict) else {}
        if result.get("promise_id") in promised:
            continue
        body = message.args[0] if message.args else {}
        body = body if isinstance(body, dict) else {"value": body}
        if message.name == "task_outcome" and body.get("task_id") in tasks_with_outcome:
            continue  # the store's task entry says it, with the same outcome
        kind, summary, reason = _describe_message(message.name, body, result)
        if message.rejected:
            summary += ": the workflow refused it"
        entries.append(
            TimelineEntry(
                at=message.at,
                kind=kind,
                summary=summary,
                reason=mask(reason) if reason else None,
                strategy=strategy_at(message.at)[0],
                inputs=_masked(body),
                source="history",
                ref=message.ref,
            )
        )
    return entries


def _describe_message(
    name: str, body: dict[str, Any], result: dict[str, Any]
) -> tuple[str, str, str | None]:
    if name == "instalments":
        items = body.get("instalments") or []
        listed = ", ".join(
            f"#{i.get('seq')} {i.get('amount')} due {i.get('due_date')}" for i in items[:4]
        )
        return "message", f"loan system sent {len(items)} instalment(s): {listed}", None
    if name == "contact_event":
        what = str(body.get("kind", "event")).replace("_", " ")
        return "message", f"{what} on {body.get('channel', '?')}", "reported by the channel"
    if name == "task_outcome":
        outcome = body.get("outcome") or {}
        code = str(outcome.get("outcome", "?")).replace("_", " ")
        by = body.get("recorded_by")
        effect = result.get("effect")
        return (
            "outcome",
            f"{body.get('task_kind', 'task')} task outcome: {code}" + (f" (by {by})" if by else ""),
            effect,
        )
    if any(word in name.lower() for word in HOLD_WORDS):
        return "hold", f"{name.replace('_', ' ')} reported", body.get("notes") or body.get("reason")
    return "message", f"{name.replace('_', ' ')} received", None


# ------------------------------------------------------------------------------ building


async def build_timeline(client: Client | None, database_url: str, loan_id: str) -> Timeline | None:
    """The account's timeline, or None when neither the store nor Temporal knows the loan."""
    from workflows.messages import workflow_id_for

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

    def strategy_at(at: datetime) -> tuple[str | None, dict[str, Any] | None]:
        run = _run_at(facts.runs, at)
        return (run.strategy or fallback, run.strategy_data) if run else (fallback, None)

    for entry in facts.entries:
        if entry.strategy is None:
            entry.strategy = strategy_at(entry.at)[0]
    entries = [
        *facts.entries,
        *_store_entries(store, facts.runs, fallback),
        *_merge_payments(store, facts.messages, strategy_at),
        *_merge_promises(store, facts.messages, strategy_at),
        *_message_entries(store, facts.messages, strategy_at),
    ]
    entries.sort(key=TimelineEntry.sort_key)
    latest = facts.runs[-1].strategy if facts.runs else None
    return Timeline(
        loan_id=loan_id,
        workflow_id=workflow_id,
        timezone=facts.timezone,
        state=store.account.get("state") if store.account else None,
        strategy=fallback or latest,
        history="complete" if chain is not None else "unavailable",
        runs=len(chain.runs) if chain else 0,
        children=len(chain.children) if chain else 0,
        entries=entries,
    )


# ------------------------------------------------------------------------------ rendering


def describe_inputs(inputs: dict[str, Any]) -> str:
    """`dpd 12 · bucket M1 · amount_overdue 1206.00` for tables and reports."""
    parts = []
    for key, value in inputs.items():
        if value is None or value == "" or isinstance(value, dict | list):
            continue
        parts.append(f"{key} {value}")
    return " · ".join(parts)


HTML_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Timeline of {{ t.loan_id }}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
         color: #1d2330; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .meta { color: #5b6475; margin-bottom: 1.2rem; }
  .meta span { margin-right: 1.2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .45rem .6rem;
           border-bottom: 1px solid #e3e6ec; }
  th { background: #f4f6f9; position: sticky; top: 0; font-weight: 600; }
  td.at { white-space: nowrap; font-variant-numeric: tabular-nums; color: #39404f; }
  .kind { display: inline-block; padding: .05rem .45rem; border-radius: .6rem; font-size: 12px;
          background: #eef1f6; }
  .k-transition { background: #e5efff; } .k-payment { background: #e4f6e9; }
  .k-promise { background: #fff3d9; } .k-contact_blocked { background: #ffe3e3; }
  .k-contact { background: #eee6ff; } .k-hold { background: #ffe9d6; }
  .k-outcome { background: #e0f4f4; } .k-workflow, .k-child { background: #ececec; }
  .why { color: #39404f; } .rule { color: #5b6475; font-size: 12px; }
  .inputs { color: #5b6475; font-size: 12px; }
  .src { color: #8a92a3; font-size: 12px; }
  footer { margin-top: 1.5rem; color: #8a92a3; font-size: 12px; }
</style>
</head>
<body>
<h1>Collections timeline — loan {{ t.loan_id }}</h1>
<div class="meta">
  <span>workflow <code>{{ t.workflow_id }}</code></span>
  <span>state <b>{{ t.state or "unknown" }}</b></span>
  <span>strategy {{ t.strategy or "unknown" }}</span>
  <span>{{ t.runs }} run(s){% if t.children %}, {{ t.children }} child workflow(s){% endif %}</span>
  <span>history {{ t.history }}</span>
  <span>{{ t.entries | length }} entries</span>
</div>
<table>
<thead><tr>
<th>when (UTC){% if t.timezone %}<br><small>{{ t.timezone }}</small>{% endif %}</th>
<th>what</th><th>summary</th><th>why</th><th>inputs</th>
<th>source</th></tr></thead>
<tbody>
{% for e in t.entries %}
<tr>
  <td class="at">{{ e.at.strftime("%Y-%m-%d %H:%M") }}
      {% if t.timezone %}<br><small>{{ local(e.at) }}</small>{% endif %}</td>
  <td><span class="kind k-{{ e.kind }}">{{ e.kind | replace("_", " ") }}</span></td>
  <td>{{ e.summary }}</td>
  <td><div class="why">{{ e.reason or "" }}</div>
      {% if e.rule %}<div class="rule">rule: {{ e.rule }}</div>{% endif %}
      {% if e.strategy %}<div class="rule">strategy {{ e.strategy }}</div>{% endif %}</td>
  <td class="inputs">{{ describe(e.inputs) }}</td>
  <td class="src">{{ e.source }}{% if e.ref %}<br>{{ e.ref }}{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
<footer>Generated {{ generated }} by arrears from the store and the Temporal history of every
run. Borrower names, phone numbers and addresses are masked.</footer>
</body>
</html>
"""


def local_time(at: datetime, timezone: str | None) -> str:
    """The instant on the borrower's clock (contact windows and due dates are local)."""
    if not timezone:
        return ""
    try:
        return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def render_html(timeline: Timeline) -> str:
    """A standalone HTML report (no external assets), for an auditor's file."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(HTML_TEMPLATE)
    return template.render(
        t=timeline,
        describe=describe_inputs,
        local=lambda at: local_time(at, timeline.timezone),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
