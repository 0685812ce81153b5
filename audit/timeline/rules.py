"""What the store's rows mean: a transition (with the bucket or stage rule that moved it), an
action (the ladder step, why it came late, what the provider said), a contact the compliance
gate refused (the rule and the earliest allowed instant), a task's end. Each row becomes one
entry with its reason and rule, in the strategy's words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from audit.timeline.cases import CASE_ACTIONS, HISTORY_TOO, case_entry
from audit.timeline.entries import EPOCH, TimelineEntry
from audit.timeline.messages import describe_message, local_label
from audit.timeline.scrub import masked
from audit.timeline.sources import StoreRecords
from core.logmask import MASK, mask
from domain.vocabulary import AUTOMATED_CONTACTS, AccountState
from store.engine import as_utc
from workflows.contracts import (
    ActionDetail,
    ConsolidatedDetail,
    ContactBlockedDetail,
    DeliveryFailureDetail,
    HoldDetail,
    SharedOutcomeDetail,
    WriteOffDetail,
    read_detail,
)


def money(value: Any) -> str:
    """A decimal string as the contract writes money ("1200.00"): the store keeps four places."""
    amount = Decimal(str(value))
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount)


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
) -> str | None:
    to_state = row["to_state"]
    if to_state in (AccountState.WRITTEN_OFF, AccountState.RESTRUCTURED, AccountState.CLOSED):
        return None  # decided by a subflow or the loan system: the reason says which
    if to_state == AccountState.PAID_ON_TIME:
        return "paid in full by the end of the due date (borrower's local day)"
    if to_state == AccountState.CURED:
        return "amount overdue reached zero"
    if row.get("from_state") == AccountState.PRE_DUE and to_state == AccountState.DELINQUENT:
        return "unpaid at the end of the due date (borrower's local day)"
    rules = [_range_rule(strategy, "buckets", row["to_bucket"]) or f"bucket {row['to_bucket']}"]
    if stage:
        rules.append(_range_rule(strategy, "stages", stage) or f"stage {stage}")
    return "; ".join(rules)


ACTION_LABELS = {
    "sms_reminder": "SMS reminder",
    "voice_reminder": "voice reminder",
    "email_reminder": "email reminder",
    "call_task": "call task",
    "field_visit": "field visit",
    "oca_placement": "agency placement",
    "oca_recall": "agency recall",
    "delivery_failure": "what a failed delivery taught",
    "oca_hold_notice": "agency told to stop (hold)",
    "oca_resume_notice": "agency told the hold ended",
    "agency_contacts": "agency contacts reported",
    "hold_placed": "hold placed",
    "hold_released": "hold released",
}


# The workflow's default action reason ("strategy default@1 step fe_sms_1 at DPD 3") repeats
# the strategy column and the rule: the timeline says why the step came instead.
_DEFAULT_REASON = re.compile(r"^strategy \S+ step \S+ at DPD -?\d+$")


def _label(action: Any) -> str:
    text = str(action)
    return ACTION_LABELS.get(text, text.replace("_", " "))


@dataclass
class Pause:
    """A stretch of time the ladder waited (an open promise, a hold), to explain late steps."""

    since: datetime
    until: datetime | None
    what: str


@dataclass
class Context:
    """What the store's entries need beyond their own row."""

    strategy_at: Any
    timezone: str | None = None
    deliveries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    pauses: list[Pause] = field(default_factory=list)
    effects: dict[str, str] = field(default_factory=dict)
    # Without the history the borrower's name is unknown, so a person's free-text notes could
    # name them unrecognised: they are withheld.
    withhold_notes: bool = False


def _step(strategy: dict[str, Any] | None, step_id: str | None) -> dict[str, Any] | None:
    for steps in ((strategy or {}).get("treatments") or {}).values():
        for step in steps or []:
            if step.get("id") == step_id:
                return dict(step)
    return None


def store_entries(store: StoreRecords, context: Context) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    strategy_at = context.strategy_at
    for row in store.transitions:
        at = as_utc(row["at"])
        assert at is not None
        ref, data = strategy_at(at)
        stage = _stage_at(data, row["dpd"]) if row["to_state"] == AccountState.DELINQUENT else None
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
        if row["kind"] in CASE_ACTIONS:
            if context.withhold_notes or row["kind"] not in HISTORY_TOO:
                at = as_utc(row["at"]) or EPOCH
                entries.append(
                    case_entry(row, strategy_at(at)[0], context.timezone, context.withhold_notes)
                )
            continue
        if row["kind"] in HOLD_ACTIONS:
            if context.withhold_notes:  # no history: the store's record of the hold stands in
                entries.append(_hold_action_entry(row, context))
            continue  # with the history, its add_hold/release_hold message is the entry
        entries.append(_action_entry(row, context))
    for row in store.tasks:
        entry = _task_entry(
            row, strategy_at, context.effects.get(row["task_id"]), context.withhold_notes
        )
        if entry is not None:
            entries.append(entry)
    return entries


HOLD_ACTIONS = ("hold_placed", "hold_released")


def _hold_action_entry(row: dict[str, Any], context: Context) -> TimelineEntry:
    """A hold from the store's actions (patch arrears-4-hold-actions), described as the
    history's add_hold/release_hold message would be, minus the free-text notes."""
    at = as_utc(row["at"]) or EPOCH
    detail = _detail(row)
    assert isinstance(detail, HoldDetail)  # the kinds of HOLD_ACTIONS
    body = {
        "kind": detail.hold,
        "reported_by": detail.reported_by or detail.cause or "?",
        "released_by": detail.released_by or "?",
        # The reason and notes are a person's free text: withheld like other notes, since
        # without the history the borrower's name is not known to scrub it.
    }
    result = {"since": detail.since, "until": detail.until, "kind": detail.hold}
    name = "add_hold" if row["kind"] == "hold_placed" else "release_hold"
    kind, summary, reason, inputs = describe_message(name, body, result, context.timezone)
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask(reason) if reason else None,
        strategy=context.strategy_at(at)[0],
        inputs=masked({k: v for k, v in (inputs or {}).items() if v is not None}),
        source="store",
        ref=f"action {row['seq']}",
    )


ACTION_INPUTS = (
    "dpd",
    "bucket",
    "amount_overdue",
    "currency",
    "broken_promises",
    "promise_id",
    "error_code",
    "provider_id",
    "failed_channel",
    "verdict",
    "rule",
    "undelivered_in_a_row",
)


def _detail(row: dict[str, Any]) -> ActionDetail:
    """The row's detail read as its kind's model (workflows.contracts.details), the type the
    workflow wrote it with: a row the contract does not know is refused, naming the field."""
    return read_detail(row["kind"], row.get("detail") or {})


def _consolidation_summary(typed: ActionDetail) -> str | None:
    """What consolidation across a borrower's loans did (docs/borrowers.md), in words."""
    if isinstance(typed, ConsolidatedDetail):
        what = (
            f"call task {typed.into_task}"
            if typed.into_task
            else f"{typed.covered_channel or 'contact'} of the day"
        )
        covered = _label(typed.covered_action or "contact")
        return f"{covered} covered by loan {typed.by_loan}'s {what}, which names this loan"
    if isinstance(typed, SharedOutcomeDetail):
        loans = ", ".join(typed.loans or [])
        summary = f"{typed.outcome} on call task {typed.shared_task} applies to loans {loans}"
        if typed.share is not None:
            summary += f"; this loan's share of the promise: {typed.share} {typed.currency or ''}"
        return summary.rstrip()
    return None


def _action_entry(row: dict[str, Any], context: Context) -> TimelineEntry:
    at = as_utc(row["at"]) or EPOCH
    ref, data = context.strategy_at(at)
    typed = _detail(row)
    if isinstance(typed, ContactBlockedDetail):
        return _blocked_entry(row, typed, at, ref, data, context.timezone)
    # The generic inputs below read any kind alike, from the JSON its model keeps.
    detail = typed.stored()
    action = row["kind"]
    channel = row.get("channel") or ""
    status = row.get("status")
    delivery: dict[str, Any] = typed.delivery or {}
    kind = "contact" if action in AUTOMATED_CONTACTS else "decision"
    via = f" via {channel}" if channel and channel not in ("internal", "agency") else ""
    template = f" ({typed.template})" if typed.template else ""
    agency = delivery.get("agency")
    where = f" with {agency}" if agency and action == "oca_placement" else ""
    where = f" from {agency}" if agency and action == "oca_recall" else where
    outcome = typed.status if isinstance(typed, WriteOffDetail) else None
    summary = f"{_label(action)}{where}{via}{template}: {outcome or status}"
    if isinstance(typed, DeliveryFailureDetail) and typed.verdict:
        failed_code = f" (error {typed.error_code})" if typed.error_code else ""
        failed = typed.failed_channel or "a contact"
        summary = f"failed {failed}{failed_code}: the number is judged {typed.verdict}"
        if typed.rule:
            summary += f"; later contacts meet {typed.rule}"
    summary = _consolidation_summary(typed) or summary
    if typed.task_id:
        summary += f", task {typed.task_id}"
    inputs = {k: detail[k] for k in ACTION_INPUTS if detail.get(k) is not None}
    outbound = context.deliveries.get((str(row.get("episode")), int(row["seq"])))
    if outbound and outbound.get("provider_status"):
        provider_status = outbound["provider_status"]
        code = outbound.get("error_code")
        summary += f"; provider: {provider_status}" + (f" (error {code})" if code else "")
        inputs["delivery_status"] = provider_status
        if code:
            inputs["error_code"] = code
    if agency:
        inputs["agency"] = agency
        for key in ("period_end", "commission_rate", "recall_reason"):
            if delivery.get(key):
                inputs[key] = delivery[key]
    step = _step(data, detail.get("step_id"))
    if step is not None and int(step.get("dpd", 0)) < 0 and not detail.get("dpd"):
        # Before the due date DPD does not count down; the strategy's "DPD -1" is one day
        # before the due date, and that is what the entry shows.
        inputs["dpd"] = int(step["dpd"])
        inputs["days_to_due"] = -int(step["dpd"])
    inputs.update({"stage": row.get("stage"), "channel": channel, "status": status})
    reasons = []
    stated = str(detail.get("reason") or "")
    if stated and not _DEFAULT_REASON.match(stated):
        reasons.append(stated)
    elif step is not None:
        reasons.append("the ladder step's day came")
    if detail.get("rescheduled_by"):
        reasons.append(f"deferred: first refused by {detail['rescheduled_by']}")
    late = _late_step(step, detail, at, context.pauses)
    if late:
        reasons.append(late)
    error = delivery.get("error")
    if status == "failed":
        code = typed.error_code
        why = error or (f"provider error {code}" if code else "no reason recorded")
        reasons.append(f"failed: {why}")
    rule = detail.get("rule") or _step_rule(data, detail.get("step_id"))
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask("; ".join(reasons)) if reasons else None,
        rule=str(rule) if rule else None,
        strategy=ref,
        inputs=masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


def _late_step(
    step: dict[str, Any] | None, detail: dict[str, Any], at: datetime, pauses: list[Pause]
) -> str | None:
    """Why a ladder step came on a later day than its DPD: what paused the ladder then."""
    if step is None or detail.get("dpd") is None:
        return None
    late_by = int(detail["dpd"]) - int(step.get("dpd", 0))
    if late_by <= 0 or int(step.get("dpd", 0)) < 0:
        return None
    due = at - timedelta(days=late_by)
    causes = [
        p.what
        for p in pauses
        if p.since <= at and (p.until is None or p.until >= due - timedelta(days=1))
    ]
    because = f": the ladder was paused by {', '.join(causes)}" if causes else ""
    return f"due at DPD {step.get('dpd')}, taken at DPD {detail['dpd']}{because}"


def _blocked_entry(
    row: dict[str, Any],
    typed: ContactBlockedDetail,
    at: datetime,
    ref: str | None,
    data: dict[str, Any] | None,
    timezone: str | None,
) -> TimelineEntry:
    """A contact the compliance gate refused: which one (the ladder step), the rule, and the
    earliest instant it may go, on the borrower's clock."""
    detail = typed.stored()
    blocked = typed.blocked_action
    step_id = typed.step_id_blocked or typed.step_id
    rule = str(typed.rule or "unknown rule")
    earliest = typed.rescheduled_to
    summary = _label(blocked or "contact")
    if step_id:
        summary += f" (step {step_id})"
    summary += f" refused: {rule}"
    summary += (
        f" — earliest allowed {local_label(earliest, timezone)}"
        if earliest
        else " — dropped: no later instant is allowed"
    )
    inputs: dict[str, Any] = {
        k: detail[k] for k in ("dpd", "bucket", "amount_overdue") if k in detail
    }
    inputs.update(
        {
            "blocked_action": blocked,
            "step_id": step_id,
            "profile": typed.profile,
            "channel": row.get("channel"),
            "stage": row.get("stage"),
            "earliest_allowed": earliest,
        }
    )
    reasons = [typed.reason.rstrip(".")] if typed.reason else []
    step_rule = _step_rule(data, step_id) if step_id else None
    if step_rule and step_rule != f"step {step_id}":
        reasons.append(f"the contact was {step_rule}")
    return TimelineEntry(
        at=at,
        kind="contact_blocked",
        summary=summary,
        reason=mask("; ".join(reasons)) if reasons else None,
        rule=rule,
        strategy=ref,
        inputs=masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


NOTES_WITHHELD = "notes withheld: without the workflow history the borrower's name is unknown"


def _task_entry(
    row: dict[str, Any], strategy_at: Any, effect: str | None = None, withhold_notes: bool = False
) -> TimelineEntry | None:
    """A task's end: its outcome (when a person reported one) or why it closed without one."""
    closed = as_utc(row.get("closed_at"))
    outcome = row.get("outcome")
    if closed is None and not outcome:
        return None
    at = as_utc(row.get("outcome_at")) or closed or as_utc(row.get("created_at")) or EPOCH
    detail = row.get("detail") or {}
    if outcome:
        code = outcome.get("outcome", "reported")
        by = outcome.get("recorded_by") or row.get("outcome_by") or row.get("assignee")
        summary = f"{row['kind']} task {row['task_id']} outcome: {str(code).replace('_', ' ')}"
        summary += f" (by {by})" if by else ""
        if outcome.get("contact_info"):
            summary += "; new contact details recorded"
        kind = "outcome"
    else:
        summary = f"{row['kind']} task {row['task_id']} {row.get('status')}"
        kind = "task"
    ref, _data = strategy_at(at)
    reason = _task_reason(row, outcome, detail)
    if outcome and withhold_notes:
        outcome = {k: (MASK if k == "notes" else v) for k, v in outcome.items()}
        reason = NOTES_WITHHELD if reason else None
    if effect:
        reason = f"{reason}; {effect}" if reason else effect
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=reason,
        strategy=ref,
        inputs=masked(
            {
                "task_id": row["task_id"],
                "dpd": detail.get("dpd"),
                "stage": detail.get("stage"),
                "amount_overdue": detail.get("amount_overdue"),
                "claimed_by": row.get("assignee") if row.get("claimed_at") else None,
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
