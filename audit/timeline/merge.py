"""Where the two sources tell one story: a payment as it arrived (history) and as it was
applied (store), counted once when repeated; a promise as requested (who, from the history) and
as recorded and resolved (store); and the stretches the ladder waited (open promises, holds),
which explain a late step."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from audit.timeline.entries import EPOCH, TimelineEntry
from audit.timeline.rules import Pause, money
from audit.timeline.scrub import masked
from audit.timeline.sources import Message, StoreRecords
from store.engine import as_utc


def merge_payments(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """One entry per payment as applied (store), with when it arrived (history); a repeat of the
    same payment_id appears as received-and-counted-once; a payment the store never recorded
    (the account was closed, or the store lost it) appears from history alone."""
    entries: list[TimelineEntry] = []
    currency = str((store.account or {}).get("currency") or "")
    applied = {p["payment_id"]: p for p in store.payments}
    seen: set[str] = set()
    for message in (m for m in messages if m.is_payment and not m.rejected):
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
                        f"payment {payment_id} of {amount} {currency} received again: counted once"
                        if repeat
                        else f"payment {payment_id} of {amount} received; not applied"
                    ),
                    reason="a repeated payment_id is counted once"
                    if repeat
                    else "the account was no longer in collection, or the store lacks it",
                    strategy=ref,
                    inputs=masked(body),
                    source="history",
                    ref=message.ref,
                )
            )
            seen.add(payment_id)
            continue
        seen.add(payment_id)
        row = applied.pop(payment_id)
        ref, data = strategy_at(message.at)
        entries.append(_payment_entry(row, message, ref, data, currency))
    for row in applied.values():  # in the store, not in (retained) history
        at = as_utc(row["paid_at"]) or EPOCH
        ref, data = strategy_at(at)
        entries.append(_payment_entry(row, None, ref, data, currency))
    return entries


ALLOCATION = {
    "penalty_first": "penalty first, then principal, oldest instalment first",
    "principal_first": "principal first, oldest instalment first, then penalty",
}


def _payment_entry(
    row: dict[str, Any],
    message: Message | None,
    ref: str | None,
    data: dict[str, Any] | None,
    currency: str,
) -> TimelineEntry:
    at = message.at if message else (as_utc(row["paid_at"]) or EPOCH)
    paid_at = as_utc(row["paid_at"])
    order = (data or {}).get("allocation")
    agency = f"; while placed with agency {row['agency_id']}" if row.get("agency_id") else ""
    return TimelineEntry(
        at=at,
        kind="payment",
        summary=f"payment {row['payment_id']} of {money(row['amount'])} {currency} applied; "
        f"DPD now {row['dpd']} (bucket {row['bucket']})",
        reason=f"reported by the loan system{agency}",
        rule=f"allocated {order}: {ALLOCATION.get(str(order), str(order))}"
        if order
        else "allocated by the strategy's allocation order",
        strategy=ref,
        inputs={
            "payment_id": row["payment_id"],
            "amount": money(row["amount"]),
            "currency": currency or None,
            "paid_at": f"{paid_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if paid_at else None,
            "dpd": row["dpd"],
            "bucket": row["bucket"],
            "agency_id": row.get("agency_id"),
            "commission": money(row["commission"]) if row.get("commission") is not None else None,
        },
        source="store",
        ref=message.ref if message else f"payment {row['payment_id']}",
    )


def merge_promises(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """A promise made (store, plus who recorded it from the update in history) and how it ended
    (kept, broken, ...), each at its own moment."""
    requests: dict[str, Message] = {}
    for message in messages:
        if message.kind == "update" and isinstance(message.result, dict):
            promise_id = message.result.get("promise_id")
            if not promise_id and message.name == "task_outcome":
                found = re.search(r"promise (\S+) recorded", str(message.result.get("effect")))
                promise_id = found.group(1) if found else None
            if promise_id:
                requests[str(promise_id)] = message
    entries: list[TimelineEntry] = []
    for row in store.promises:
        request = requests.pop(row["promise_id"], None)
        made = request.at if request else (as_utc(row.get("made_at")) or EPOCH)
        body = request.args[0] if request and request.args else {}
        by = body.get("recorded_by") if isinstance(body, dict) else None
        task = None if request else _promising_task(store, row)
        if task is not None:  # without history: the task outcome that made it says who, when
            made = as_utc(task.get("outcome_at")) or made
            by = task.get("outcome_by")
        ref, data = strategy_at(made)
        rules = (data or {}).get("promises") or {}
        entries.append(
            TimelineEntry(
                at=made,
                kind="promise",
                summary=f"promise {row['promise_id']}: {money(row['amount'])} by "
                f"{row['promised_date']}" + (f" (recorded by {by})" if by else ""),
                reason=_promise_reason(request, body)
                or (
                    "the borrower promised during a task (call or visit outcome)" if task else None
                ),
                rule=(
                    f"at most {rules.get('max_days_ahead')} days ahead, judged "
                    f"{rules.get('grace_days')} day(s) after, {rules.get('tolerance_pct')} "
                    "tolerance"
                )
                if rules
                else None,
                strategy=ref,
                inputs=masked(
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


def _promising_task(store: StoreRecords, row: dict[str, Any]) -> dict[str, Any] | None:
    """The task whose promise_to_pay outcome made this promise (same amount and date)."""
    for task in store.tasks:
        outcome = task.get("outcome") or {}
        promised = outcome.get("promise") or {}
        if (
            outcome.get("outcome") == "promise_to_pay"
            and str(promised.get("promised_date")) == str(row["promised_date"])
            and Decimal(str(promised.get("amount", "0"))) == Decimal(str(row["amount"]))
        ):
            return dict(task)
    return None


def _promise_reason(request: Message | None, body: Any) -> str | None:
    if request is None:
        return None
    if request.name == "task_outcome":
        return "the borrower promised during a task (call or visit outcome)"
    override = isinstance(body, dict) and body.get("supervisor_override")
    return "promise to pay recorded by a " + ("supervisor" if override else "collector")


def pauses(store: StoreRecords, messages: list[Message]) -> list[Pause]:
    """When the ladder waited: each promise while open, each hold until released."""
    pauses = []
    for row in store.promises:
        since = as_utc(row.get("made_at"))
        if since is not None:
            until = as_utc(row.get("resolved_at"))
            pauses.append(Pause(since, until, f"open promise {row['promise_id']}"))
    for message in messages:
        if message.name != "add_hold" or message.rejected:
            continue
        body = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        hold = str(body.get("kind", "a"))
        ended = next(
            (
                m.at
                for m in messages
                if m.name == "release_hold"
                and m.at >= message.at
                and isinstance(m.args[0] if m.args else None, dict)
                and m.args[0].get("kind") == hold
            ),
            None,
        )
        result = message.result if isinstance(message.result, dict) else {}
        if ended is None and result.get("until"):
            with contextlib.suppress(ValueError):
                ended = datetime.fromisoformat(str(result["until"]))
        pauses.append(Pause(message.at, ended, f"a {hold.replace('_', ' ')} hold"))
    return pauses
