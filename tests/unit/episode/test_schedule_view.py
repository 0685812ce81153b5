"""The schedule the status query shows (issue 15, the desk's account page): each instalment's
paid, outstanding and own DPD, and the restructure plan while offered and once accepted. Pure,
with made-up dates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.account import Instalment
from domain.book import LoanBook
from workflows.account.schedule import instalment_views, restructure_view

D = Decimal
DUE_1 = date(2026, 12, 1)
DUE_2 = date(2027, 1, 1)


def _book() -> LoanBook:
    return LoanBook.open(
        [
            Instalment(seq=7, due_date=DUE_1, amount=D("1200.00")),
            Instalment(seq=8, due_date=DUE_2, amount=D("1200.00")),
        ],
        "CNY",
        D("0.0005"),
        "principal_first",
    )


def test_each_instalment_shows_what_was_paid_what_is_outstanding_and_its_own_dpd() -> None:
    book = _book()
    today = DUE_1 + timedelta(days=10)
    book.accrue_to(today)
    book.apply_payment("P-1", D("500.00"), today)
    views = {v.seq: v for v in instalment_views(book, today)}
    assert (views[7].paid, views[7].unpaid, views[7].dpd) == (D("500.00"), D("700.00"), 10)
    assert (views[8].paid, views[8].unpaid, views[8].dpd) == (D("0"), D("1200.00"), 0)


def test_a_paid_instalment_is_past_due_no_longer_and_none_is_on_its_due_date() -> None:
    book = _book()
    book.apply_payment("P-1", D("1200.00"), DUE_1)
    views = {v.seq: v for v in instalment_views(book, DUE_2)}
    assert (views[7].paid, views[7].unpaid, views[7].dpd) == (D("1200.00"), D("0"), 0)
    assert views[8].dpd == 0  # its due date is today: not yet past due
    assert {v.seq: v.dpd for v in instalment_views(book, DUE_2 + timedelta(days=1))}[8] == 1


OFFER = {
    "instalments": [
        {"seq": 1, "due_date": "2027-01-10", "amount": "600.00"},
        {"seq": 2, "due_date": "2027-02-09", "amount": "600.00"},
    ],
    "instalment_amount": "600.00",
    "waiver": "24.00",
    "total": "1200.00",
    "expires_on": "2026-12-17",
    "instalment_count": 2,
}


def test_an_open_offer_shows_its_plan_with_money_paid_since_counted_in_order() -> None:
    book = _book()
    plan = restructure_view("offered", OFFER, book, D("700.00"), date(2026, 12, 12))
    assert plan is not None and plan.stage == "offered"
    assert plan.expires_on == date(2026, 12, 17) and plan.total == D("1200.00")
    assert [(i.seq, i.paid, i.unpaid) for i in plan.instalments] == [
        (1, D("600.00"), D("0.00")),
        (2, D("100.00"), D("500.00")),
    ]
    assert plan.replaced == []


def test_an_accepted_plan_shows_its_instalments_on_the_book_and_what_they_replaced() -> None:
    book = _book()
    today = DUE_1 + timedelta(days=40)
    book.accrue_to(today)
    offer = {
        **OFFER,
        "instalments": [
            {"seq": 1, "due_date": "2027-01-10", "amount": "1200.00"},
            {"seq": 2, "due_date": "2027-02-09", "amount": "1200.00"},
        ],
        "total": "2400.00",
    }
    terms = [
        Instalment(seq=1, due_date=date(2027, 1, 10), amount=D("1200.00")),
        Instalment(seq=2, due_date=date(2027, 2, 9), amount=D("1200.00")),
    ]
    book.restructure(terms, D("2400.00"), D("0"), today)
    later = date(2027, 1, 15)
    plan = restructure_view("accepted", offer, book, D("0"), later)
    assert plan is not None and plan.stage == "accepted"
    assert [(i.seq, i.due_date, i.unpaid, i.dpd) for i in plan.instalments] == [
        (9, date(2027, 1, 10), D("1200.00"), 5),
        (10, date(2027, 2, 9), D("1200.00"), 0),
    ]
    assert [(i.seq, i.unpaid, i.dpd) for i in plan.replaced] == [
        (7, D("1200.00"), 0),
        (8, D("1200.00"), 0),
    ]


def test_no_plan_is_shown_before_an_offer_or_while_the_child_computes_one() -> None:
    assert restructure_view(None, None, _book(), D("0"), DUE_1) is None
    assert restructure_view("starting", None, _book(), D("0"), DUE_1) is None
