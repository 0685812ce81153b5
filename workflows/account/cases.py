"""Disputes and complaints as cases (issue 17 item 7; PLAYBOOK.md section 10: judge whether the
complaint is valid, route it, help the customer separate it from the duty to repay).

A dispute or complaint reported through the API (or a call refused with a complaint) places its
hold as before and, when the pinned strategy has a `cases:` section, opens a case: its kind,
reason, the instant it opened, a deadline from the strategy, the supervisors' queue as its
owner, evidence added later, and a resolution:

- **upheld**: the adjustment (0.00 up to the balance, to the cent) comes off the book, penalty
  first (`balance.adjusted`), the case's hold ends and collection resumes on what is left (an
  account with nothing overdue left is cured);
- **rejected**: nothing comes off; the hold ends and collection resumes where the ladder stands.

A case still open at its deadline is escalated once (`case_overdue`, `case.overdue`) and stays
open: a dispute keeps collection paused until someone decides it; a complaint's pause ends at
its deadline as the strategy says.

An episode pinned to a strategy without `cases:` (versions before issue 17) opens no case, so
it issues exactly the commands it did (docs/versioning.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from domain.cases import CASE_KINDS
from domain.contact import Hold
from domain.money import check_precision
from domain.strategy import Strategy
from domain.vocabulary import ActionKind, Refusal
from workflows.account.episode import Episode, Refused
from workflows.contracts import CaseDetail
from workflows.contracts.cases import CaseAnswer, CaseEvidenceRequest, CaseResolution
from workflows.contracts.state import OpenCase

CASE_CLOSED = Refusal.CASE_CLOSED
INVALID_ADJUSTMENT = Refusal.INVALID_ADJUSTMENT


def case_deadline(strategy: Strategy, kind: str, opened_at: datetime) -> datetime | None:
    """When the case must be answered: a complaint within the strategy's complaint pause
    (`holds.complaint_days`), a dispute within `cases.dispute_response_days`; None when the
    strategy keeps no cases."""
    if strategy.cases is None or kind not in CASE_KINDS:
        return None
    days = (
        strategy.holds.complaint_days
        if kind == "complaint"
        else strategy.cases.dispute_response_days
    )
    return opened_at + timedelta(days=days)


def case_id_for(ep: Episode, seq: int) -> str:
    """Stable across retries and replays: the loan, the episode and the opening action's seq."""
    return f"{ep.s.account.loan_id}-{ep.s.episode[:8]}-C{seq}"


def open_case(ep: Episode, now: datetime, hold: Hold) -> OpenCase | None:
    """The case a dispute or complaint hold opens (None when the strategy keeps no cases)."""
    deadline = case_deadline(ep.strategy, hold.kind, now)
    if deadline is None or ep.strategy.cases is None:
        return None
    case = OpenCase(
        case_id=case_id_for(ep, ep.s.action_seq + 1),
        kind=hold.kind,
        hold_since=hold.since,
        opened_at=now,
        deadline=deadline,
    )
    ep.s.cases.append(case)
    _record(
        ep,
        now,
        ActionKind.CASE_OPENED,
        case,
        reason=hold.detail.get("reason") or f"{hold.kind} reported",
        by=hold.detail.get("reported_by"),
        notes=hold.detail.get("notes"),
        opened_at=now.isoformat(),
        deadline=deadline.isoformat(),
        owner_queue=ep.strategy.cases.owner_queue,
    )
    return case


def _record(
    ep: Episode, now: datetime, action: ActionKind, case: OpenCase, **fields: object
) -> None:
    ep.record_action(
        now,
        "internal",
        CaseDetail.model_validate(
            {
                **{k: v for k, v in fields.items() if v is not None},
                "action": action,
                "case_id": case.case_id,
                "case_kind": case.kind,
            }
        ),
    )


def find_open(ep: Episode, case_id: str) -> OpenCase:
    """The open case of this id, or `Refused` (409 `case_closed`): the API has already
    answered 404 for a case the store does not know."""
    case = next((c for c in ep.s.cases if c.case_id == case_id), None)
    if case is None:
        raise Refused(
            f"Case {case_id} is not open on this account: it was resolved already.", CASE_CLOSED
        )
    return case


def check_open(ep: Episode, case_id: str) -> None:
    """Refuse (409) anything for a case that is not open."""
    find_open(ep, case_id)


def add_evidence(ep: Episode, now: datetime, request: CaseEvidenceRequest) -> CaseAnswer:
    """Evidence joins the case's record (the store keeps every entry)."""
    case = find_open(ep, request.case_id)
    _record(
        ep,
        now,
        ActionKind.CASE_EVIDENCE,
        case,
        reason=f"evidence for {case.kind} case {case.case_id}",
        by=request.added_by,
        text=request.text,
        document=request.document,
    )
    ep.wake = True
    return CaseAnswer(case_id=case.case_id, kind=case.kind, status="open", deadline=case.deadline)


def check_resolution(ep: Episode, now: datetime, request: CaseResolution) -> None:
    """Refuse a resolution that cannot apply, before it enters history: a case not open (409),
    an adjustment on a rejection, below zero, finer than the currency's cents or above the
    balance owed today (422)."""
    find_open(ep, request.case_id)
    amount = request.adjustment
    if amount is None:
        return
    if request.resolution == "rejected" and amount != 0:
        raise Refused(
            "A rejected case takes nothing off the balance; give no adjustment.",
            INVALID_ADJUSTMENT,
        )
    if amount < 0:
        raise Refused(f"The adjustment {amount} must be zero or more.", INVALID_ADJUSTMENT)
    try:
        check_precision(amount, ep.s.account.currency)
    except ValueError as error:
        raise Refused(str(error), INVALID_ADJUSTMENT) from None
    balance = ep.accrued_book(ep.today(now)).balance
    if amount > balance:
        raise Refused(
            f"The adjustment {amount} is more than the balance {balance} "
            f"{ep.s.account.currency} owed.",
            INVALID_ADJUSTMENT,
            {"balance": str(balance), "adjustment": str(amount)},
        )


def resolve(ep: Episode, now: datetime, request: CaseResolution) -> CaseAnswer:
    """Upheld: the adjustment comes off the book; either way the case's hold ends (collection
    resumes where the ladder stands) and the case leaves the open list."""
    case = find_open(ep, request.case_id)
    today = ep.today(now)
    book = ep.s.book
    if today > ep.first_due():
        book.accrue_to(today)
    before = book.balance
    adjustment: Decimal | None = None
    if request.resolution == "upheld":
        adjustment = request.adjustment or Decimal("0.00")
        book.adjust(adjustment, today)
    ep.s.cases = [c for c in ep.s.cases if c.case_id != case.case_id]
    _record(
        ep,
        now,
        ActionKind.CASE_RESOLVED,
        case,
        reason=f"{case.kind} case {request.resolution} by {request.resolved_by}",
        by=request.resolved_by,
        notes=request.notes,
        resolution=request.resolution,
        adjustment=str(adjustment) if adjustment is not None else None,
        balance_before=str(before),
        balance_after=str(book.balance),
        currency=ep.s.account.currency,
    )
    _end_hold(ep, now, case, request)
    ep.wake = True
    return CaseAnswer(
        case_id=case.case_id,
        kind=case.kind,
        status=request.resolution,
        deadline=case.deadline,
        adjustment=adjustment,
        balance=book.balance,
    )


def _end_hold(ep: Episode, now: datetime, case: OpenCase, request: CaseResolution) -> None:
    """The case's own hold ends (a complaint's may have run out already); other holds stay."""
    holds = []
    for hold in ep.s.holds:
        if hold.kind == case.kind and hold.since == case.hold_since and hold.active_at(now):
            hold = hold.ended(now)
            ep.record_hold(
                now,
                "hold_released",
                hold,
                {
                    "released_by": request.resolved_by,
                    "notes": f"case {case.case_id} {request.resolution}",
                },
            )
        holds.append(hold)
    ep.s.holds = holds


def next_deadline(ep: Episode) -> datetime | None:
    """The earliest deadline of an open case not yet escalated: the workflow wakes then."""
    return min((c.deadline for c in ep.s.cases if not c.escalated), default=None)


def escalate_overdue(ep: Episode, now: datetime) -> list[OpenCase]:
    """A case past its deadline without a resolution is escalated to the owner queue's
    supervisors, once: a `case_overdue` action (and `case.overdue` event) the case shows."""
    overdue = [c for c in ep.s.cases if not c.escalated and c.deadline <= now]
    for case in overdue:
        case.escalated = True
        _record(
            ep,
            now,
            ActionKind.CASE_OVERDUE,
            case,
            reason=f"{case.kind} case {case.case_id} unresolved at its deadline "
            f"{case.deadline.isoformat()}: escalated to the supervisors",
            deadline=case.deadline.isoformat(),
            owner_queue=ep.strategy.cases.owner_queue if ep.strategy.cases else None,
        )
    return overdue
