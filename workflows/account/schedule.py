"""The schedule as the status query shows it (issue 15): each instalment with what was paid of
it, what is outstanding and its own days past due, and the restructure plan when there is one
(an open offer, or the accepted plan with the instalments it replaced).

Pure and read-only: it builds views from the book and the episode's offer, never changes them,
so it adds nothing to the workflow's history (the query and the moment's status snapshot call
it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.book import BookInstalment, LoanBook
from domain.calendar import days_past_due
from domain.restructure import PlanInstalment, plan_progress
from workflows.contracts.status import InstalmentView, RestructurePlanView

__all__ = ("instalment_views", "restructure_view")


def instalment_view(inst: BookInstalment, today: date) -> InstalmentView:
    """One instalment: paid is what is no longer unpaid; it is past due only while something of
    it is unpaid after its due date (DPD 0 on the due date itself, as the account's DPD)."""
    due = inst.due_date if inst.unpaid > 0 and inst.due_date < today else None
    return InstalmentView(
        seq=inst.seq,
        due_date=inst.due_date,
        amount=inst.amount,
        unpaid=inst.unpaid,
        paid=inst.amount - inst.unpaid,
        dpd=days_past_due(due, today),
    )


def instalment_views(book: LoanBook, today: date) -> list[InstalmentView]:
    return [instalment_view(i, today) for i in book.instalments]


def restructure_view(
    stage: str | None,
    offer: dict[str, Any] | None,
    book: LoanBook,
    paid_since: Decimal,
    today: date,
) -> RestructurePlanView | None:
    """The open offer (its plan with what was paid since the offer counted toward it, as the
    plan will count it on acceptance) or the accepted plan (its instalments as on the book, with
    the instalments it replaced). None before an offer, while
    the child is still computing one, and after a plan ended or broke."""
    if offer is None or stage not in ("offered", "accepted"):
        return None
    plan = [PlanInstalment.model_validate(i) for i in offer.get("instalments") or []]
    total = _decimal(offer.get("total"))
    waiver = _decimal(offer.get("waiver"))
    expires = offer.get("expires_on")
    expires_on = date.fromisoformat(str(expires)) if expires else None
    if stage == "offered":
        instalments = [
            InstalmentView(
                seq=p.seq,
                due_date=p.due_date,
                amount=p.amount,
                unpaid=p.owed,
                paid=p.paid,
                dpd=0,
            )
            for p in plan_progress(plan, paid_since)
        ]
        return RestructurePlanView(
            stage=stage, total=total, waiver=waiver, expires_on=expires_on, instalments=instalments
        )
    # The plan's instalments took seqs after every instalment the book held, with the plan's
    # own due dates and amounts (LoanBook.restructure).
    before = max((i.seq for i in book.replaced), default=0)
    terms = {(p.due_date, p.amount) for p in plan}
    on_book = [i for i in book.instalments if i.seq > before and (i.due_date, i.amount) in terms]
    return RestructurePlanView(
        stage=stage,
        total=total,
        waiver=waiver,
        instalments=[instalment_view(i, today) for i in sorted(on_book, key=lambda i: i.seq)],
        replaced=[
            # Replaced instalments are owed no more: shown as they stood, past due no longer.
            InstalmentView(
                seq=i.seq,
                due_date=i.due_date,
                amount=i.amount,
                unpaid=i.unpaid,
                paid=i.amount - i.unpaid,
            )
            for i in book.replaced
        ],
    )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
