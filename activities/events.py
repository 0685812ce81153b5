"""The business facts in one workflow moment, as events for the loan system (store/events.py).

Pure: a `MomentRecord` in, `EventFact`s out, in the order the moment made them, each under a key
the fact decides, so the `apply_moment` retry that records the moment again adds no event twice.
Facts that other activities produce are recorded where they happen: an agency placement or
recall where the store places it (store/agencies.py), a filing where the legal status arrives
(store/legal.py), an approved write-off where it is posted (activities/loan_system.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from domain.vocabulary import CLOSED_STATES, AccountState, ActionKind, EventType
from store.events import EventFact
from workflows.contracts import (
    CaseDetail,
    LegalFilingDetail,
    MomentRecord,
    NegativeCreditDetail,
    PaymentConflictDetail,
    PaymentRecord,
    PromiseView,
    RestructureAcceptedDetail,
    SettlementAcceptedDetail,
    TransitionRecord,
)

__all__ = ["facts_of"]


def facts_of(moment: MomentRecord, opened: bool) -> list[EventFact]:
    """Every fact of the moment; `opened` when the store meets this episode for the first time
    (its first moment), so `account.opened` comes first."""
    facts: list[EventFact] = []
    if opened:
        facts.append(
            _fact(moment, f"{moment.episode}:opened", EventType.ACCOUNT_OPENED, _opening(moment))
        )
    # What arrived (payments), what it did to promises, then where the account moved: a
    # payment that keeps a promise and cures the account reads in that order.
    for payment in moment.payments:
        facts.append(_payment_fact(moment, payment))
    for promise in moment.promises:
        facts.extend(_promise_facts(moment, promise))
    plan = next(
        (a.detail for a in moment.actions if isinstance(a.detail, RestructureAcceptedDetail)),
        None,
    )
    for transition in moment.transitions:
        facts.extend(_transition_facts(moment, transition, plan))
    for action in moment.actions:
        if isinstance(action.detail, CaseDetail):
            facts.extend(_case_facts(moment, action.seq, action.at, action.detail))
        if isinstance(action.detail, RestructureAcceptedDetail) and action.detail.waived:
            # The accepted plan forgave penalty (the offer's waiver and what accrued while the
            # offer was open): the loan system books the waiver, to the cent.
            facts.append(
                _fact(
                    moment,
                    f"{moment.episode}:action:{action.seq}:waived",
                    EventType.PENALTY_WAIVED,
                    {
                        "amount": action.detail.waived,
                        "currency": action.detail.currency,
                        "reason": "restructure plan accepted",
                        "child": action.detail.child,
                    },
                    at=action.at,
                )
            )
        if isinstance(action.detail, PaymentConflictDetail):
            # A signalled repeat of a payment_id with another amount (nothing booked): the loan
            # system learns of it here, as it would from a 409 on the update.
            facts.append(
                _fact(
                    moment,
                    f"{moment.episode}:action:{action.seq}",
                    EventType.PAYMENT_CONFLICT,
                    {
                        "payment_id": action.detail.payment_id,
                        "amount_on_record": action.detail.amount_on_record,
                        "amount": action.detail.amount,
                    },
                    at=action.at,
                )
            )
        if isinstance(action.detail, NegativeCreditDetail):
            facts.append(
                _fact(
                    moment,
                    f"{moment.episode}:action:{action.seq}",
                    EventType.CREDIT_NEGATIVE_RECORD,
                    {
                        "promise_id": action.detail.promise_id,
                        "broken_promises": action.detail.broken_promises,
                        "reason": action.detail.reason,
                    },
                    at=action.at,
                )
            )
        if isinstance(action.detail, LegalFilingDetail) and action.detail.decision == "approved":
            # Issue 17 item 4: the legal team approved the filing (four eyes); the suit is
            # filed in the same moment (`legal.filed` follows from the case's own record).
            approval = action.detail
            facts.append(
                _fact(
                    moment,
                    f"{moment.episode}:action:{action.seq}",
                    EventType.LEGAL_APPROVED,
                    {
                        "approved_by": approval.decided_by,
                        "requested_by": approval.requested_by,
                        "balance": approval.balance,
                        "currency": approval.currency,
                        "min_suit_balance": approval.min_suit_balance,
                        "approval_task": approval.approval_task,
                        "case_id": approval.case_id,
                        "step": approval.step,
                    },
                    at=action.at,
                )
            )
        if isinstance(action.detail, SettlementAcceptedDetail):
            detail = action.detail
            facts.append(
                _fact(
                    moment,
                    f"{moment.episode}:action:{action.seq}",
                    EventType.SETTLEMENT_ACCEPTED,
                    {
                        "amount": detail.amount,
                        "paid": detail.paid,
                        "balance_at_offer": detail.balance_at_offer,
                        "written_off": detail.written_off,
                        "currency": detail.currency,
                    },
                    at=action.at,
                )
            )
    return facts


_CASE_EVENTS = {
    ActionKind.CASE_OPENED: EventType.CASE_OPENED,
    ActionKind.CASE_OVERDUE: EventType.CASE_OVERDUE,
    ActionKind.CASE_RESOLVED: EventType.CASE_RESOLVED,
}


def _case_facts(moment: MomentRecord, seq: int, at: Any, detail: CaseDetail) -> Iterator[EventFact]:
    """A case opened, overdue or resolved (evidence stays internal); an upheld case's
    adjustment is also `balance.adjusted`, before `case.resolved`."""
    type = _CASE_EVENTS.get(detail.action)
    if type is None:
        return
    key = f"{moment.episode}:action:{seq}"
    case = {"case_id": detail.case_id, "kind": detail.case_kind}
    if type == EventType.CASE_RESOLVED and detail.resolution == "upheld" and detail.adjustment:
        yield _fact(
            moment,
            f"{key}:adjusted",
            EventType.BALANCE_ADJUSTED,
            {
                **case,
                "amount": detail.adjustment,
                "balance_before": detail.balance_before,
                "balance_after": detail.balance_after,
                "currency": detail.currency,
            },
            at=at,
        )
    data: dict[str, Any] = {**case, "deadline": detail.deadline}
    if type == EventType.CASE_OPENED:
        data["reason"] = detail.reason
    if type == EventType.CASE_RESOLVED:
        data = {**case, "resolution": detail.resolution, "adjustment": detail.adjustment}
    yield _fact(moment, key, type, {k: v for k, v in data.items() if v is not None}, at=at)


def _fact(
    moment: MomentRecord,
    key: str,
    type: EventType,
    data: dict[str, Any],
    at: Any = None,
) -> EventFact:
    return EventFact(
        key=f"{moment.loan_id}:{key}",
        at=at or moment.at,
        loan_id=moment.loan_id,
        type=type,
        data={"episode": moment.episode, **{k: _plain(v) for k, v in data.items()}},
    )


def _plain(value: Any) -> Any:
    """Money as the decimal string the API writes; dates and instants in ISO form."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _opening(moment: MomentRecord) -> dict[str, Any]:
    status = moment.status
    return {
        "state": status.state,
        "currency": status.currency,
        "strategy": f"{status.strategy.name}@{status.strategy.version}",
        "segment": moment.segment,
    }


def _schedule(plan: RestructureAcceptedDetail | None) -> dict[str, Any]:
    """The new schedule an accepted restructure put on the book (the loan system re-books the
    loan from it): its instalments, what it collects, what it replaced and forgave."""
    if plan is None:
        return {}
    return {
        "instalments": plan.instalments,
        "total": plan.total,
        "paid_since_offer": plan.paid_since_offer,
        "waived": plan.waived,
        "rescheduled_penalty": plan.rescheduled_penalty,
        "replaced": plan.replaced,
        "balance": plan.balance,
        "currency": plan.currency,
    }


def _transition_facts(
    moment: MomentRecord, t: TransitionRecord, plan: RestructureAcceptedDetail | None = None
) -> Iterator[EventFact]:
    key = f"{moment.episode}:transition:{t.seq}"
    where = {"dpd": t.dpd, "bucket": t.to_bucket, "reason": t.reason}
    if t.to_state == AccountState.DELINQUENT and t.from_state != AccountState.DELINQUENT:
        yield _fact(
            moment,
            f"{key}:delinquent",
            EventType.ACCOUNT_DELINQUENT,
            {**where, "from_state": t.from_state},
            at=t.at,
        )
    if t.from_bucket is not None and t.to_bucket != t.from_bucket:
        yield _fact(
            moment,
            f"{key}:bucket",
            EventType.BUCKET_CHANGED,
            {"from_bucket": t.from_bucket, "to_bucket": t.to_bucket, "dpd": t.dpd},
            at=t.at,
        )
    if t.to_state == AccountState.RESTRUCTURED:
        yield _fact(
            moment,
            f"{key}:restructured",
            EventType.RESTRUCTURE_ACCEPTED,
            {**where, **_schedule(plan)},
            at=t.at,
        )
    if t.to_state == AccountState.CURED:
        yield _fact(moment, f"{key}:cured", EventType.ACCOUNT_CURED, where, at=t.at)
    if t.to_state in CLOSED_STATES and t.from_state not in CLOSED_STATES:
        yield _fact(
            moment,
            f"{key}:closed",
            EventType.ACCOUNT_CLOSED,
            {**where, "state": t.to_state},
            at=t.at,
        )


def _payment_fact(moment: MomentRecord, p: PaymentRecord) -> EventFact:
    return _fact(
        moment,
        f"payment:{p.payment_id}",  # a payment_id names one payment of the loan, in any episode
        EventType.PAYMENT_APPLIED,
        {
            "payment_id": p.payment_id,
            "amount": p.amount,
            "currency": moment.status.currency,
            "paid_at": p.paid_at,
            "dpd": p.dpd,
            "bucket": p.bucket,
            "agency_id": p.agency_id,
            "placement_id": p.placement_id,
            "commission": p.commission,
        },
    )


def _promise_facts(moment: MomentRecord, p: PromiseView) -> Iterator[EventFact]:
    promise = {
        "promise_id": p.promise_id,
        "amount": p.amount,
        "currency": moment.status.currency,
        "promised_date": p.promised_date,
        "deadline": p.deadline,
    }
    # Made first even when the same moment resolves it: the key keeps it once.
    yield _fact(
        moment, f"promise:{p.promise_id}:made", EventType.PROMISE_MADE, promise, at=p.made_at
    )
    if p.status == "kept":
        yield _fact(moment, f"promise:{p.promise_id}:kept", EventType.PROMISE_KEPT, promise)
    elif p.status == "broken":
        yield _fact(moment, f"promise:{p.promise_id}:broken", EventType.PROMISE_BROKEN, promise)
