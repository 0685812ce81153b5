"""Why the payment was missed (PLAYBOOK.md section 2, the front end's first goal: "find out why
the payment was missed (record a reason code)"; issue 17 item 6).

A call or visit outcome may carry `missed_payment_reason`, one of the pinned strategy's
`missed_payment_reasons` codes. An unknown code is refused before it enters history (422
`invalid_outcome`, naming the codes allowed); a known one is recorded as a
`missed_payment_reason` action, which the operations report and the simulator's scoreboard count
per reason.
"""

from __future__ import annotations

from datetime import datetime

from domain.cases import reason_codes
from domain.vocabulary import ActionKind, Refusal
from workflows.account.episode import Episode, Refused
from workflows.contracts import MissedPaymentReasonDetail, OpenTask, TaskOutcome

REASON_TASK_KINDS = ("call", "field_visit")
"""Where a borrower can tell us why: a conversation on a call or at a visit."""


def check_reason(ep: Episode, task: OpenTask, request: TaskOutcome) -> None:
    """Refuse a reason code the strategy does not list, or one on a task that is no call or
    visit (422 `invalid_outcome`)."""
    code = request.outcome.missed_payment_reason
    if code is None:
        return
    if task.kind not in REASON_TASK_KINDS:
        raise Refused(
            f"A {task.kind} task takes no missed_payment_reason; only a call or a visit does.",
            Refusal.INVALID_OUTCOME,
        )
    allowed = reason_codes(ep.strategy.missed_payment_reasons)
    if code not in allowed:
        raise Refused(
            f"The missed_payment_reason {code!r} is not one of strategy {ep.strategy.ref}'s: "
            + (", ".join(allowed) if allowed else "it records no reason codes")
            + ".",
            Refusal.INVALID_OUTCOME,
            {"field": "missed_payment_reason", "allowed": list(allowed)},
        )


def record_reason(ep: Episode, now: datetime, task: OpenTask, request: TaskOutcome) -> None:
    """The reason the borrower gave, as an action of its own (typed detail)."""
    code = request.outcome.missed_payment_reason
    if code is None:
        return
    dpd = ep.dpd(now)
    ep.record_action(
        now,
        "internal",
        MissedPaymentReasonDetail(
            action=ActionKind.MISSED_PAYMENT_REASON,
            reason=f"the borrower missed the payment: {code}",
            code=code,
            reported_task=task.task_id,
            task_kind=task.kind,
            outcome=request.outcome.outcome,
            recorded_by=request.recorded_by,
            dpd=dpd,
            bucket=ep.s.bucket,
        ),
    )
