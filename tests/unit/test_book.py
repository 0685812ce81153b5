import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.account import Instalment
from domain.book import AllocationOrder, LoanBook

D = Decimal
RATE = D("0.0005")
DUE_1 = date(2026, 12, 1)
DUE_2 = date(2027, 1, 1)


def _inst(seq: int, due: date, amount: str = "1200.00") -> Instalment:
    return Instalment(seq=seq, due_date=due, amount=D(amount))


def _book(
    *dues: date, allocation: AllocationOrder = "penalty_first", rate: Decimal = RATE
) -> LoanBook:
    return LoanBook.open([_inst(7 + n, due) for n, due in enumerate(dues)], "CNY", rate, allocation)


def _day(dpd: int, due: date = DUE_1) -> date:
    return due + timedelta(days=dpd)


# --------------------------------------------------------------------------- DPD and overdue


def test_nothing_is_overdue_on_the_due_date_itself() -> None:
    book = _book(DUE_1)
    assert book.dpd(DUE_1) == 0
    assert book.overdue_principal(DUE_1) == 0
    assert book.oldest_unpaid_due(DUE_1) is None


def test_unpaid_instalment_is_overdue_from_the_day_after_its_due_date() -> None:
    book = _book(DUE_1)
    assert book.dpd(_day(1)) == 1
    assert book.overdue_principal(_day(1)) == D("1200.00")
    assert book.oldest_unpaid_due(_day(1)) == DUE_1


def test_future_instalment_counts_in_balance_but_not_in_amount_overdue() -> None:
    book = _book(DUE_1, DUE_2)
    today = _day(10)
    book.accrue_to(today)
    assert book.overdue_principal(today) == D("1200.00")
    assert book.balance == D("2400.00") + book.penalty_outstanding
    assert book.amount_overdue(today) == D("1200.00") + book.penalty_outstanding


def test_partial_payment_clearing_oldest_instalment_moves_dpd_anchor_to_next() -> None:
    book = _book(DUE_1, DUE_2, rate=D(0))
    day_40 = _day(40)
    assert book.dpd(day_40) == 40
    book.apply_payment("P-1", D("1200.00"), day_40)
    assert book.oldest_unpaid_due(day_40) == DUE_2
    assert book.dpd(day_40) == (day_40 - DUE_2).days == 9


def test_partial_payment_not_clearing_oldest_instalment_keeps_the_dpd_anchor() -> None:
    book = _book(DUE_1, DUE_2, rate=D(0))
    book.apply_payment("P-1", D("1199.99"), _day(40))
    assert book.dpd(_day(40)) == 40


def test_paying_everything_overdue_cures_the_account() -> None:
    book = _book(DUE_1, DUE_2)
    book.apply_payment("P-1", D("1206.00"), _day(10))
    assert book.amount_overdue(_day(10)) == 0
    assert book.dpd(_day(10)) == 0
    assert book.balance == D("1200.00")


# --------------------------------------------------------------------------- penalty


def test_penalty_for_1200_overdue_paid_in_full_on_dpd_10_is_6_and_stops() -> None:
    book = _book(DUE_1)
    paid_on = date(2026, 12, 11)
    assert book.dpd(paid_on) == 10
    book.accrue_to(paid_on)
    assert book.penalty_outstanding == D("6.00")  # 0.0005 x 1200.00 x 10 days
    result = book.apply_payment("P-1", D("1206.00"), paid_on)
    assert result.payment.to_penalty == D("6.00")
    assert book.balance == 0
    book.accrue_to(date(2027, 6, 1))
    assert book.penalty_accrued_total == D("6.00")
    assert book.penalty_outstanding == 0


def test_first_penalty_day_is_the_day_after_the_due_date() -> None:
    book = _book(DUE_1)
    assert book.accrue_to(DUE_1) == 0
    assert book.accrue_to(_day(1)) == D("0.60")


def test_penalty_does_not_depend_on_how_often_it_is_accrued() -> None:
    rate = D("0.00033")
    daily = _book(DUE_1, rate=rate)
    for dpd in range(1, 31):
        daily.accrue_to(_day(dpd))
    once = _book(DUE_1, rate=rate)
    once.accrue_to(_day(30))
    assert daily.penalty_accrued_total == once.penalty_accrued_total == D("11.88")
    assert len(daily.penalty_periods) == 1


def test_each_accrual_period_is_rounded_half_up_once() -> None:
    book = LoanBook.open([_inst(1, DUE_1, "1000.01")], "CNY", D("0.0005"))
    book.accrue_to(_day(1))
    assert book.penalty_accrued_total == D("0.50")  # 0.500005 rounds to 0.50
    book.accrue_to(_day(3))
    assert book.penalty_accrued_total == D("1.50")  # 1.500015 over one 3-day period


def test_partial_payment_mid_way_changes_the_penalty_base_from_the_next_day() -> None:
    book = _book(DUE_1, allocation="principal_first")
    book.apply_payment("P-1", D("600.00"), _day(5))  # days 1-5 on 1200.00 = 3.00
    book.accrue_to(_day(10))  # days 6-10 on 600.00 = 1.50
    assert book.penalty_accrued_total == D("4.50")
    assert [(p.base, p.days, p.amount) for p in book.penalty_periods] == [
        (D("1200.00"), 5, D("3.00")),
        (D("600.00"), 5, D("1.50")),
    ]


def test_second_instalment_falling_due_raises_the_penalty_base() -> None:
    book = _book(DUE_1, DUE_2)
    book.accrue_to(_day(2, DUE_2))
    # 31 days (Dec 2 - Jan 1) on 1200.00, then 2 days on 2400.00.
    assert book.penalty_accrued_total == D("18.60") + D("2.40")


def test_nothing_accrues_while_no_principal_is_overdue() -> None:
    book = _book(DUE_1, DUE_2)
    book.apply_payment("P-1", D("1200.60"), _day(1))
    book.accrue_to(DUE_2)
    assert book.penalty_accrued_total == D("0.60")
    assert book.penalty_outstanding == 0


def test_zero_penalty_rate_accrues_nothing() -> None:
    book = _book(DUE_1, rate=D(0))
    book.accrue_to(_day(100))
    assert book.penalty_accrued_total == 0
    assert book.penalty_periods == []


def test_accruing_to_an_earlier_day_changes_nothing() -> None:
    book = _book(DUE_1)
    book.accrue_to(_day(10))
    assert book.accrue_to(_day(5)) == 0
    assert book.accrued_through == _day(10)


def test_late_reported_payment_is_applied_without_recomputing_past_penalty() -> None:
    book = _book(DUE_1)
    book.accrue_to(_day(10))
    book.apply_payment("P-1", D("1206.00"), _day(3))
    assert book.penalty_accrued_total == D("6.00")
    assert book.balance == 0


def test_penalty_outstanding_alone_keeps_the_account_overdue_but_accrues_nothing() -> None:
    book = _book(DUE_1, allocation="principal_first")
    book.apply_payment("P-1", D("1200.00"), _day(10))
    assert book.overdue_principal(_day(10)) == 0
    assert book.penalty_outstanding == D("6.00")
    assert book.amount_overdue(_day(10)) == D("6.00")
    assert book.dpd(_day(10)) == 0
    book.accrue_to(_day(40))
    assert book.penalty_outstanding == D("6.00")


# --------------------------------------------------------------------------- allocation


def test_penalty_first_pays_the_penalty_before_principal() -> None:
    book = _book(DUE_1)
    result = book.apply_payment("P-1", D("100.00"), _day(10))
    assert result.payment.to_penalty == D("6.00")
    assert [(a.seq, a.amount) for a in result.payment.to_principal] == [(7, D("94.00"))]
    assert book.penalty_outstanding == 0
    assert book.overdue_principal(_day(10)) == D("1106.00")


def test_principal_first_pays_overdue_principal_before_the_penalty() -> None:
    book = _book(DUE_1, allocation="principal_first")
    result = book.apply_payment("P-1", D("100.00"), _day(10))
    assert result.payment.to_penalty == 0
    assert [(a.seq, a.amount) for a in result.payment.to_principal] == [(7, D("100.00"))]
    assert book.penalty_outstanding == D("6.00")


def test_principal_first_pays_the_penalty_before_instalments_not_yet_due() -> None:
    book = _book(DUE_1, DUE_2, allocation="principal_first")
    result = book.apply_payment("P-1", D("1300.00"), _day(10))
    assert [(a.seq, a.amount) for a in result.payment.to_principal] == [
        (7, D("1200.00")),
        (8, D("94.00")),
    ]
    assert result.payment.to_penalty == D("6.00")


def test_payments_go_to_the_oldest_unpaid_instalment_first() -> None:
    book = _book(DUE_1, DUE_2, rate=D(0))
    result = book.apply_payment("P-1", D("1500.00"), _day(5, DUE_2))
    assert [(a.seq, a.amount) for a in result.payment.to_principal] == [
        (7, D("1200.00")),
        (8, D("300.00")),
    ]


def test_payment_before_the_due_date_prepays_the_instalment() -> None:
    book = _book(DUE_1)
    book.apply_payment("P-1", D("1200.00"), DUE_1 - timedelta(days=1))
    book.accrue_to(_day(30))
    assert book.balance == 0
    assert book.penalty_accrued_total == 0


def test_overpayment_beyond_the_whole_balance_is_kept_as_credit() -> None:
    book = _book(DUE_1)
    result = book.apply_payment("P-1", D("1300.00"), _day(10))
    assert result.payment.to_credit == D("94.00")
    assert book.credit == D("94.00")
    assert book.balance == 0
    assert book.paid_total == D("1300.00")


# --------------------------------------------------------------------------- idempotency


def test_repeated_payment_id_is_counted_once() -> None:
    book = _book(DUE_1)
    first = book.apply_payment("P-1", D("600.00"), _day(10))
    again = book.apply_payment("P-1", D("600.00"), _day(11))
    assert first.new is True
    assert again.new is False
    assert again.payment == first.payment
    assert book.paid_total == D("600.00")
    assert book.applied_payment_ids == frozenset({"P-1"})


def test_repeated_payment_id_with_a_different_amount_is_still_ignored() -> None:
    book = _book(DUE_1)
    book.apply_payment("P-1", D("600.00"), _day(10))
    assert book.apply_payment("P-1", D("9999.00"), _day(10)).new is False
    assert book.paid_total == D("600.00")


def test_payment_amount_must_be_positive_and_fit_the_currency() -> None:
    book = _book(DUE_1)
    with pytest.raises(ValueError, match="greater than zero"):
        book.apply_payment("P-1", D("0"), _day(1))
    with pytest.raises(ValueError, match="more decimals than CNY allows"):
        book.apply_payment("P-2", D("1.001"), _day(1))
    assert book.payments == []


# --------------------------------------------------------------------------- schedule changes


def test_resending_the_same_instalment_is_idempotent() -> None:
    book = _book(DUE_1)
    assert book.add_instalments([_inst(7, DUE_1)], DUE_1) == []
    assert len(book.instalments) == 1


def test_new_instalment_is_added_in_schedule_order() -> None:
    book = _book(DUE_1)
    assert book.add_instalments([_inst(8, DUE_2)], _day(5)) == [8]
    assert [i.seq for i in book.instalments] == [7, 8]
    assert book.next_unpaid_due(_day(5)) == DUE_2


def test_changed_instalment_replaces_the_old_terms_and_keeps_what_was_paid() -> None:
    book = _book(DUE_1, rate=D(0))
    book.apply_payment("P-1", D("200.00"), _day(5))
    assert book.add_instalments([_inst(7, _day(10), "1000.00")], _day(6)) == [7]
    inst = book.instalments[0]
    assert (inst.due_date, inst.amount, inst.unpaid) == (_day(10), D("1000.00"), D("800.00"))
    assert book.dpd(_day(6)) == 0


def test_instalment_reduced_below_what_was_paid_turns_the_excess_into_credit() -> None:
    book = _book(DUE_1, rate=D(0))
    book.apply_payment("P-1", D("1000.00"), _day(5))
    book.add_instalments([_inst(7, DUE_1, "900.00")], _day(6))
    assert book.instalments[0].unpaid == 0
    assert book.credit == D("100.00")


def test_schedule_change_with_out_of_order_due_dates_is_refused() -> None:
    book = _book(DUE_1, DUE_2)
    with pytest.raises(ValueError, match="due dates must increase with seq"):
        book.add_instalments([_inst(9, DUE_1 + timedelta(days=10))], _day(1))
    assert [i.seq for i in book.instalments] == [7, 8]


def test_schedule_change_accrues_penalty_on_the_old_terms_first() -> None:
    book = _book(DUE_1)
    book.add_instalments([_inst(7, _day(20))], _day(10))
    assert book.penalty_accrued_total == D("6.00")
    book.accrue_to(_day(15))
    assert book.penalty_accrued_total == D("6.00")


# --------------------------------------------------------------------------- state


def test_book_round_trips_through_json_with_money_as_strings() -> None:
    book = _book(DUE_1, DUE_2)
    book.apply_payment("P-1", D("600.00"), _day(5))
    book.accrue_to(_day(12))
    text = book.model_dump_json()
    data = json.loads(text)
    assert data["instalments"][0]["unpaid"] == "603.00"
    assert data["penalty_periods"][0]["amount"] == "3.00"
    again = LoanBook.model_validate_json(text)
    assert again == book
    assert again.apply_payment("P-1", D("600.00"), _day(13)).new is False


def test_paid_off_book_has_zero_balance() -> None:
    book = _book(DUE_1)
    assert not book.is_paid_off()
    book.apply_payment("P-1", D("1200.00"), DUE_1)
    assert book.is_paid_off()


def test_refused_schedule_change_leaves_the_book_untouched() -> None:
    book = _book(DUE_1, DUE_2)
    before = book.model_copy(deep=True)
    with pytest.raises(ValueError):
        book.add_instalments([_inst(9, DUE_1)], _day(10))
    assert book == before


# --------------------------------------------------------------------------- charge-off


def test_a_charged_off_book_accrues_no_penalty_after_the_charge_off_day_to_the_cent() -> None:
    """Issue 17 item 3: from the charge-off day on the amount owed is fixed; a payment still
    reduces it. 1200.00 × 0.0005 × 180 days = 108.00, however the wake-ups fall."""
    book = _book(DUE_1)
    book.accrue_to(_day(170))
    book.accrual_stopped_on = _day(180)
    book.accrue_to(_day(200))
    assert book.penalty_accrued_total == D("108.00")
    assert book.balance == D("1308.00")
    book.apply_payment("p-1", D("100.00"), _day(210))
    assert book.balance == D("1208.00")
    assert book.penalty_accrued_total == D("108.00")


def test_accrual_resumed_after_a_rejected_charge_off_charges_only_the_days_after_it() -> None:
    """Penalties are never recomputed backwards: the days under review are not charged."""
    book = _book(DUE_1)
    book.accrual_stopped_on = _day(180)
    book.accrue_to(_day(190))
    book.accrual_stopped_on = None
    book.accrue_to(_day(200))
    assert book.penalty_accrued_total == D("108.00") + D("0.60") * 10


# --------------------------------------------------------------------------- restructure


def _plan(first: date, *amounts: str) -> list[Instalment]:
    return [_inst(n + 1, first + timedelta(days=30 * n), a) for n, a in enumerate(amounts)]


def test_an_accepted_restructure_replaces_the_overdue_schedule_and_waives_to_the_cent() -> None:
    """Issue 17 item 1: offered at DPD 40 (1200.00 + 24.00 penalty, all waived: total 1200.00
    in six 200.00 instalments), accepted at DPD 43: the 1.80 accrued while the offer was open is
    waived too (25.80 in all); the balance is the plan's 1200.00, nothing is overdue, DPD 0."""
    book = _book(DUE_1)
    offered = _day(40)
    book.accrue_to(offered)
    assert book.penalty_outstanding == D("24.00")
    plan = _plan(offered + timedelta(days=30), *["200.00"] * 6)
    result = book.restructure(plan, D("1200.00"), D("0"), _day(43))
    assert result.waived == D("25.80") and result.rescheduled_penalty == D("0")
    assert result.replaced == [7]
    assert book.balance == D("1200.00")
    assert book.penalty_outstanding == 0
    assert book.dpd(_day(43)) == 0 and book.amount_overdue(_day(43)) == 0
    assert [i.seq for i in book.instalments] == [8, 9, 10, 11, 12, 13]


def test_penalty_accrues_only_on_an_overdue_plan_instalment_and_the_plan_closes_at_zero() -> None:
    """A plan instalment 5 days late accrues 200.00 × 0.0005 × 5 = 0.50; DPD counts from it;
    paying the plan and that penalty leaves exactly zero."""
    book = _book(DUE_1)
    offered = _day(40)
    plan = _plan(offered + timedelta(days=30), *["200.00"] * 6)
    book.restructure(plan, D("1200.00"), D("0"), offered)
    first_due = plan[0].due_date
    late = first_due + timedelta(days=5)
    book.accrue_to(late)
    assert book.dpd(late) == 5
    assert book.penalty_accrued_total - D("24.00") == D("0.50")
    assert book.amount_overdue(late) == D("200.50")
    book.apply_payment("p-1", D("200.50"), late)
    assert book.amount_overdue(late) == 0 and book.dpd(late) == 0
    book.apply_payment("p-rest", D("1000.00"), late)
    assert book.balance == 0


def test_money_paid_while_the_offer_was_open_counts_toward_the_plan() -> None:
    """100.00 paid between offer and acceptance covers the first plan instalment's first
    100.00; the balance is the plan's total less it."""
    book = _book(DUE_1)
    offered = _day(40)
    book.accrue_to(offered)
    book.apply_payment("during", D("100.00"), _day(42))
    plan = _plan(offered + timedelta(days=30), *["200.00"] * 6)
    book.restructure(plan, D("1200.00"), D("100.00"), _day(43))
    assert book.balance == D("1100.00")
    assert book.instalments[0].unpaid == D("100.00")
    assert book.penalty_outstanding == 0
