"""The subflows (PLAYBOOK.md sections 2, 8 and 9): a debt restructuring offered after a long-term
hardship and a write-off after a reported death or bankruptcy run as child workflows. What a child
reports arrives as a `subflow_event`; here it becomes a typed event and a `match` decides what it
changes in the episode. What the parent starts and tells its children is in the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from domain.account import Instalment
from domain.vocabulary import AccountState, ActionKind
from workflows.account import gate, holds, ladder, settlement
from workflows.account.episode import Episode
from workflows.contracts import (
    PlanBrokenEvent,
    RestructureAcceptedDetail,
    RestructureInput,
    SubflowEvent,
    TaskNeededEvent,
    WriteOffAnswerEvent,
    WriteOffInput,
    detail_for,
)

# How long the people asked by a write-off have for their task, by the task's kind.
TASK_DAYS: Mapping[str, int] = MappingProxyType({"verification": 30, "approval": 14})


@dataclass(frozen=True)
class ChildEvent:
    """What a child reported, by the child's id."""

    child_id: str


@dataclass(frozen=True)
class ChildReport(ChildEvent):
    """A child's event whose detail the parent records or passes on as it came."""

    detail: dict[str, Any]


class RestructureOffered(ChildReport):
    """The restructure child offers a plan (the offer letter goes out through the gate)."""


class RestructureAccepted(ChildReport):
    """The borrower accepted the plan: the account is restructured, collection pauses."""


class RestructureEnded(ChildEvent):
    """Declined by the borrower or expired unanswered: collection goes on as before."""


@dataclass(frozen=True)
class RestructureBroken(ChildEvent):
    """A plan instalment was paid too late: back to collection from today's DPD."""

    days_late: object


class RestructureCompleted(ChildEvent):
    """The plan is paid: the episode closes."""


@dataclass(frozen=True)
class TaskNeeded(ChildReport):
    """The write-off asks a person to verify or approve."""

    task_kind: str
    task_key: str


class SettlementOffered(ChildReport):
    """After a death, a settlement offer to the estate's representatives."""


@dataclass(frozen=True)
class WriteOffStalled(ChildReport):
    """Rejected, or not verified in time: a supervisor decides; the hold stays."""

    status: str


class WriteOffNotVerified(ChildReport):
    """The anti-fraud team found the report untrue: back to collection."""


class WrittenOff(ChildReport):
    """Verified and approved: the loan is written off and the episode closes."""


Event = (
    RestructureOffered
    | RestructureAccepted
    | RestructureEnded
    | RestructureBroken
    | RestructureCompleted
    | TaskNeeded
    | SettlementOffered
    | WriteOffStalled
    | WriteOffNotVerified
    | WrittenOff
)


def parse(event: SubflowEvent) -> Event:
    """The child's message as a typed event (its `detail` read once, here); what the parent
    records or passes on is the detail's JSON, as the child said it."""
    child, said = event.child_id, event.detail
    detail = said.stored()
    match event.kind:
        case "restructure_offered":
            return RestructureOffered(child, detail)
        case "restructure_accepted":
            return RestructureAccepted(child, detail)
        case "restructure_declined" | "restructure_expired":
            return RestructureEnded(child)
        case "restructure_broken":
            assert isinstance(said, PlanBrokenEvent)  # the event's kind chose the model
            return RestructureBroken(child, said.days_late)
        case "restructure_completed":
            return RestructureCompleted(child)
        case "task_needed":
            assert isinstance(said, TaskNeededEvent)
            rest = {k: v for k, v in detail.items() if k != "task_kind"}
            return TaskNeeded(child, rest, str(said.task_kind), str(said.task_key))
        case "settlement_offered":
            return SettlementOffered(child, detail)
        case "write_off_not_verified" if (
            isinstance(said, WriteOffAnswerEvent) and said.reason == "not verified"
        ):
            return WriteOffNotVerified(child, detail)
        case "write_off_rejected" | "write_off_not_verified":
            return WriteOffStalled(child, detail, event.kind)
        case "written_off":
            return WrittenOff(child, detail)
    raise ValueError(f"unknown subflow event {event.kind!r}")  # pragma: no cover


def on_event(ep: Episode, now: datetime, event: Event) -> None:
    """What a child reports; the parent records it and moves the account's state."""
    dpd = ep.dpd(now)
    match event:
        case RestructureOffered(child_id=child, detail=offer):
            ep.s.restructure_stage, ep.s.offer = "offered", offer
            ep.s.offer_payments_from = len(ep.s.book.payments)
            plan = offer.get("instalments") or []
            gate.send_offer(
                ep,
                now,
                "restructure_offer",
                {
                    "reason": "long-term hardship, eligible for restructuring",
                    "new_instalment_amount": offer.get("instalment_amount"),
                    "instalment_count": len(plan),
                    "waiver_amount": offer.get("waiver"),
                    "expires_on": offer.get("expires_on"),
                    "child": child,
                },
            )
        case RestructureAccepted(child_id=child, detail=accepted):
            ep.s.restructure_stage = "accepted"
            holds.cancel_tasks(ep, now, "restructured")
            reason = accept_plan(ep, now, child, accepted)
            ladder.transition(
                ep,
                now,
                AccountState.RESTRUCTURED,
                ep.dpd(now),
                reason,
                "current",
                ep.s.stage,
            )
        case RestructureEnded():
            ep.s.restructure_child = ep.s.restructure_stage = None
            ep.s.offer = None
        case RestructureBroken(days_late=days_late):
            ep.s.restructure_child = ep.s.restructure_stage = None
            ep.s.offer = None
            # Back to collection at the DPD of the oldest unpaid plan instalment, the ladder
            # resumed from the entry of that DPD's stage (its latest step of each kind).
            ep.s.anchor = ep.s.book.oldest_unpaid_due(ep.today(now))
            ep.s.floor = ladder.stage_entry(ep, dpd) - 1
            ladder.transition(
                ep,
                now,
                AccountState.DELINQUENT,
                dpd,
                f"restructure plan broken: {days_late} days late",
            )
        case RestructureCompleted() if ep.s.book.balance > 0:
            # Every plan instalment is paid, penalty on a late one is not: the account stays
            # restructured and closes when the book reaches zero (ladder.advance).
            ep.s.restructure_child = None
        case RestructureCompleted():
            ep.s.restructure_child = ep.s.restructure_stage = None
            ladder.transition(
                ep,
                now,
                AccountState.CLOSED,
                dpd,
                "restructure plan completed",
                "current",
                ep.s.stage,
            )
        case TaskNeeded():
            _issue_child_task(ep, now, event)
        case SettlementOffered(child_id=child, detail=detail):
            settlement.take_offer(ep, child, dict(detail))
            gate.send_offer(
                ep,
                now,
                "settlement_offer",
                {"reason": "death: settlement offer to the related parties", **detail},
            )
        case WriteOffStalled(status=status, detail=detail):
            # Nobody verified in time: the stay stands until a supervisor decides; never
            # resume collecting from someone reported bankrupt or dead by default.
            ep.s.write_off_child = None
            charged_off = ep.s.charged_off_on is not None
            _charge_off_ended(ep)
            next_step = "collection goes on" if charged_off else "the hold stays"
            ep.record_action(
                now,
                "internal",
                detail_for(
                    ActionKind.WRITE_OFF,
                    **{"status": status, **detail, "next": f"supervisor review; {next_step}"},
                ),
            )
        case WriteOffNotVerified(detail=detail):
            ep.s.write_off_child = None
            _charge_off_ended(ep)
            holds.end_write_off_holds(ep, now, "not verified")
            ep.record_action(
                now,
                "internal",
                detail_for(
                    ActionKind.WRITE_OFF,
                    **{
                        "status": "write_off_not_verified",
                        "reason": "back to collection",
                        **detail,
                    },
                ),
            )
        case WrittenOff(detail=detail):
            ep.s.write_off_child = None
            ep.record_action(
                now, "internal", detail_for(ActionKind.WRITE_OFF, **{"status": "posted", **detail})
            )
            ladder.transition(
                ep,
                now,
                AccountState.WRITTEN_OFF,
                dpd,
                f"charged off at DPD {ep.strategy.branches.write_off.charge_off_dpd}: written "
                "off after review and approval"
                if ep.s.charged_off_on is not None
                else "written off after verification and approval",
            )
    ep.wake = True


def accept_plan(ep: Episode, now: datetime, child: str, accepted: dict[str, Any]) -> str:
    """Issue 17 item 1: the accepted plan replaces the overdue schedule in the book (its
    instalments, the offer's waiver and the penalty accrued while it was open forgiven, money
    paid since the offer counted toward it); DPD and bucket now come from the plan. The facts
    are a `restructure_accepted` action, to the cent; the transition's reason says them too."""
    today = ep.today(now)
    plan = [
        Instalment(seq=int(i["seq"]), due_date=i["due_date"], amount=Decimal(str(i["amount"])))
        for i in accepted.get("instalments") or []
    ]
    total = Decimal(str(accepted.get("total")))
    since = ep.s.offer_payments_from or 0
    paid = sum((p.amount for p in ep.s.book.payments[since:]), Decimal(0))
    result = ep.s.book.restructure(plan, total, paid, today)
    ep.record_action(
        now,
        "internal",
        RestructureAcceptedDetail(
            action=ActionKind.RESTRUCTURE_ACCEPTED,
            reason=f"restructure plan accepted by {accepted.get('recorded_by') or 'the borrower'}",
            child=child,
            total=total,
            paid_since_offer=paid,
            waived=result.waived,
            rescheduled_penalty=result.rescheduled_penalty,
            replaced=result.replaced,
            instalments=[
                {"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": str(i.amount)}
                for i in result.instalments
            ],
            balance=ep.s.book.balance,
            currency=ep.s.account.currency,
        ),
    )
    return (
        f"restructure plan accepted: {len(plan)} instalments, {total} "
        f"{ep.s.account.currency}; penalty waived {result.waived}"
    )


def _charge_off_ended(ep: Episode) -> None:
    """A charge-off not approved (rejected, or its review found the file wrong): the account
    stays in collection and accrues penalty again from the next day (the days in between are
    not charged; penalties are never recomputed backwards)."""
    if ep.s.charged_off_on is not None:
        ep.s.book.accrual_stopped_on = None


def _issue_child_task(ep: Episode, now: datetime, event: TaskNeeded) -> None:
    """A write-off asks a person to verify or approve: the task is the parent's (its id, its
    action), owned by the child, whose outcome is forwarded to it."""
    action = "verification_task" if event.task_kind == "verification" else "approval_task"
    ep.ask_person(
        now,
        event.task_kind,
        (now, now + timedelta(days=TASK_DAYS.get(event.task_kind, 14))),
        detail_for(
            action,
            **{
                "reason": f"write-off subflow {event.child_id} asks for {event.task_kind}",
                "task_kind": event.task_kind,
                **event.detail,
            },
        ),
        priority=ep.s.book.balance,
        task_key=event.task_key,
        owner=event.child_id,
    )


@dataclass(frozen=True)
class ChildStart:
    """A child workflow to start: its type, id and input."""

    workflow: str
    child_id: str
    input: RestructureInput | WriteOffInput


def next_child(ep: Episode, now: datetime, workflow_id: str) -> ChildStart | None:
    """The next subflow the outbox asks for, as a start command; the episode remembers it."""
    if not ep.out.children:
        return None
    kind = ep.out.children.pop(0)
    ep.s.child_seq += 1
    loan = ep.s.account.loan_id
    book = ep.s.book
    if kind == "restructure":
        child_id = f"restructure-{loan}-{ep.s.child_seq}"
        ep.s.restructure_child, ep.s.restructure_stage = child_id, "starting"
        return ChildStart(
            "DebtRestructureWorkflow",
            child_id,
            RestructureInput(
                loan_id=loan,
                account_workflow_id=workflow_id,
                episode=ep.s.episode,
                currency=ep.s.account.currency,
                timezone=ep.tz,
                balance=book.balance,
                penalty_accrued=book.penalty_outstanding,
                offered_at=now,
                policy=ep.strategy.branches.restructure,
            ),
        )
    child_id = f"write-off-{loan}-{ep.s.child_seq}"
    ep.s.write_off_child = child_id
    return ChildStart(
        "WriteOffWorkflow",
        child_id,
        WriteOffInput(
            loan_id=loan,
            account_workflow_id=workflow_id,
            episode=ep.s.episode,
            currency=ep.s.account.currency,
            timezone=ep.tz,
            reason=kind,
            reported_by=next(
                (h.detail.get("reported_by", "") for h in reversed(ep.s.holds) if h.kind == kind),
                f"strategy {ep.strategy.ref}: charge-off at DPD "
                f"{ep.strategy.branches.write_off.charge_off_dpd}"
                if kind == "charge_off"
                else "",
            ),
            balance=book.balance,
            started_at=now,
            policy=ep.strategy.branches.write_off,
        ),
    )


def cancel_children(ep: Episode) -> list[str]:
    """The episode is over: a subflow still running has nothing left to decide. The ids of
    the children told to cancel."""
    cancelled = []
    for child in (ep.s.restructure_child, ep.s.write_off_child):
        if child is not None:
            ep.signal_child(child, "cancel")
            cancelled.append(child)
    ep.s.restructure_child = ep.s.write_off_child = None
    return cancelled
