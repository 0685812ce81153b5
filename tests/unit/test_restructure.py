"""Restructuring (PLAYBOOK.md sections 2 and 9): eligibility, the offer's money and dates, and how
payments cover an accepted plan."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.policies import RestructurePolicy
from domain.restructure import (
    PlanInstalment,
    RestructureOffer,
    break_day,
    build_offer,
    eligible,
    plan_progress,
)

D = Decimal
TODAY = date(2026, 12, 10)
DEFAULT = RestructurePolicy()


def _offer(
    balance: str,
    penalty: str = "0",
    currency: str = "CNY",
    policy: RestructurePolicy = DEFAULT,
) -> RestructureOffer:
    return build_offer(D(balance), D(penalty), currency, TODAY, policy)


def _amounts(offer: RestructureOffer) -> list[Decimal]:
    return [i.amount for i in offer.instalments]


# --------------------------------------------------------------------------- eligibility


def test_first_time_past_30_dpd_is_eligible_from_day_30_not_29() -> None:
    assert eligible(0, 29, False, DEFAULT)[0] is False
    ok, why = eligible(0, 30, False, DEFAULT)
    assert ok is True
    assert "30 days past due" in why and "first time" in why


def test_recurring_delinquency_is_eligible_at_the_threshold_whatever_the_dpd() -> None:
    assert eligible(1, 5, False, DEFAULT)[0] is False
    ok, why = eligible(2, 5, False, DEFAULT)
    assert ok is True
    assert "recurring" in why and "2 prior delinquencies" in why
    assert eligible(7, 0, False, DEFAULT)[0] is True


def test_one_prior_delinquency_past_30_dpd_is_still_a_first_restructure() -> None:
    assert eligible(1, 45, False, DEFAULT)[0] is True


def test_an_account_restructured_before_is_never_eligible_again() -> None:
    for prior, dpd in ((0, 30), (5, 100), (2, 0)):
        ok, why = eligible(prior, dpd, True, DEFAULT)
        assert ok is False
        assert "already restructured" in why


def test_ineligible_reason_names_both_thresholds() -> None:
    ok, why = eligible(1, 12, False, DEFAULT)
    assert ok is False
    assert why == (
        "Not eligible yet: the account is 12 days past due (restructuring starts at 30) and has "
        "1 prior delinquencies (recurring from 2)."
    )


def test_eligibility_thresholds_come_from_the_strategy() -> None:
    policy = RestructurePolicy(first_time_min_dpd=60, recurring_delinquencies=4)
    assert eligible(0, 59, False, policy)[0] is False
    assert eligible(0, 60, False, policy)[0] is True
    assert eligible(3, 10, False, policy)[0] is False
    assert eligible(4, 10, False, policy)[0] is True


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        eligible(-1, 30, False, DEFAULT)
    with pytest.raises(ValueError):
        eligible(0, -1, False, DEFAULT)


# --------------------------------------------------------------------------- the offer: money


def test_full_penalty_waiver_and_six_equal_instalments_in_cny() -> None:
    offer = _offer("7350.00", "300.00")
    assert offer.waiver == D("300.00")
    assert offer.total == D("7050.00")
    assert offer.instalment_amount == D("1175.00")
    assert _amounts(offer) == [D("1175.00")] * 6


def test_partial_waiver_is_rounded_down_to_the_fen() -> None:
    policy = RestructurePolicy(penalty_waiver_pct=D("0.33"))
    offer = _offer("1010.05", "10.05", policy=policy)
    assert offer.waiver == D("3.31")  # 10.05 x 0.33 = 3.3165: never more than the strategy allows
    assert offer.total == D("1006.74")


def test_no_waiver_keeps_the_whole_balance() -> None:
    offer = _offer("1200.00", "80.00", policy=RestructurePolicy(penalty_waiver_pct=D("0")))
    assert offer.waiver == D("0.00")
    assert offer.total == D("1200.00")


def test_cny_rounding_goes_to_the_last_instalment() -> None:
    offer = _offer("1000.00", policy=RestructurePolicy(instalments=3))
    assert _amounts(offer) == [D("333.33"), D("333.33"), D("333.34")]
    offer = _offer("1000.05")  # 166.675 each
    assert _amounts(offer) == [D("166.67")] * 5 + [D("166.70")]
    assert offer.instalment_amount == D("166.67")
    assert sum(_amounts(offer)) == D("1000.05")


def test_jpy_has_no_minor_unit() -> None:
    offer = _offer("100000", "1000", "JPY", RestructurePolicy(penalty_waiver_pct=D("0.5")))
    assert offer.waiver == D("500")
    assert offer.total == D("99500")
    assert _amounts(offer) == [D("16583")] * 5 + [D("16585")]
    for amount in (*_amounts(offer), offer.waiver, offer.total, offer.instalment_amount):
        assert amount.as_tuple().exponent == 0, amount


def test_jpy_waiver_of_half_a_yen_is_rounded_down() -> None:
    offer = _offer("10999", "999", "JPY", RestructurePolicy(penalty_waiver_pct=D("0.5")))
    assert offer.waiver == D("499")
    assert offer.total == D("10500")


def test_a_few_yen_make_fewer_instalments_never_zero_ones() -> None:
    offer = _offer("4", currency="JPY")
    assert _amounts(offer) == [D("1")] * 4
    offer = _offer("0.05", currency="CNY")
    assert _amounts(offer) == [D("0.01")] * 5


@pytest.mark.parametrize("currency", ["CNY", "JPY", "USD"])
@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 12, 60])
def test_instalments_always_sum_to_the_total_exactly(currency: str, count: int) -> None:
    policy = RestructurePolicy(instalments=count, penalty_waiver_pct=D("0.37"))
    unit = D("1") if currency == "JPY" else D("0.01")
    for units in (1, 7, 99, 1001, 123457, 9999991):
        balance = unit * units
        penalty = unit * (units // 3)
        offer = build_offer(balance, penalty, currency, TODAY, policy)
        amounts = _amounts(offer)
        assert sum(amounts) == offer.total == balance - offer.waiver
        assert all(a > 0 for a in amounts)
        assert all(a == offer.instalment_amount for a in amounts[:-1])
        assert 0 <= amounts[-1] - offer.instalment_amount < unit * len(amounts)
        assert all(a == a.quantize(unit) for a in amounts)
        assert len(amounts) == min(count, int(offer.total / unit))


def test_bad_inputs_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="cannot exceed the balance"):
        _offer("100.00", "100.01")
    with pytest.raises(ValueError, match="Nothing is left"):
        _offer("100.00", "100.00")  # the whole balance is waivable penalty
    with pytest.raises(ValueError, match="more decimals"):
        _offer("100.005")
    with pytest.raises(ValueError, match="more decimals"):
        _offer("100.5", currency="JPY")
    with pytest.raises(ValueError, match="cannot be negative"):
        _offer("100.00", "-1.00")
    with pytest.raises(ValueError, match="ISO 4217"):
        _offer("100.00", currency="XYZ")


# --------------------------------------------------------------------------- the offer: dates


def test_first_instalment_one_interval_after_today_then_every_interval() -> None:
    offer = _offer("600.00")
    assert [i.due_date for i in offer.instalments] == [
        TODAY + timedelta(days=30 * n) for n in range(1, 7)
    ]
    assert [i.seq for i in offer.instalments] == [1, 2, 3, 4, 5, 6]
    assert offer.instalments[0].due_date == date(2027, 1, 9)


def test_offer_expires_after_the_valid_days() -> None:
    assert _offer("600.00").expires_on == date(2026, 12, 17)
    policy = RestructurePolicy(offer_valid_days=1, interval_days=14, instalments=2)
    offer = _offer("600.00", policy=policy)
    assert offer.expires_on == date(2026, 12, 11)
    assert [i.due_date for i in offer.instalments] == [date(2026, 12, 24), date(2027, 1, 7)]


def test_break_day_is_missed_days_after_the_due_date() -> None:
    assert break_day(date(2027, 1, 9), DEFAULT) == date(2027, 1, 24)
    assert break_day(date(2027, 2, 20), RestructurePolicy(missed_days_to_break=10)) == date(
        2027, 3, 2
    )


# --------------------------------------------------------------------------- plan progress


PLAN = [
    PlanInstalment(seq=1, due_date=date(2027, 1, 9), amount=D("100.00")),
    PlanInstalment(seq=2, due_date=date(2027, 2, 8), amount=D("100.00")),
    PlanInstalment(seq=3, due_date=date(2027, 3, 10), amount=D("100.05")),
]


def test_payments_cover_plan_instalments_in_order() -> None:
    progress = plan_progress(PLAN, D("150.00"))
    assert [(p.seq, p.paid, p.owed, p.covered) for p in progress] == [
        (1, D("100.00"), D("0.00"), True),
        (2, D("50.00"), D("50.00"), False),
        (3, D("0"), D("100.05"), False),
    ]


def test_nothing_paid_covers_nothing_and_overpayment_stops_at_the_plan() -> None:
    assert [p.owed for p in plan_progress(PLAN, D("0"))] == [D("100.00"), D("100.00"), D("100.05")]
    progress = plan_progress(PLAN, D("1000.00"))
    assert all(p.covered for p in progress)
    assert sum(p.paid for p in progress) == D("300.05")


def test_one_fen_short_is_not_covered() -> None:
    progress = plan_progress(PLAN, D("300.04"))
    assert [p.covered for p in progress] == [True, True, False]
    assert progress[-1].owed == D("0.01")


def test_plan_progress_follows_seq_not_list_order() -> None:
    progress = plan_progress(list(reversed(PLAN)), D("100.00"))
    assert [(p.seq, p.covered) for p in progress] == [(1, True), (2, False), (3, False)]


# --------------------------------------------------------------------------- the wire


def test_the_offer_travels_as_json_with_money_as_strings_and_comes_back_equal() -> None:
    offer = _offer("1000.05", "0.05")
    wire = RestructureOffer.model_validate_json(offer.model_dump_json())
    assert wire == offer
    assert offer.model_dump(mode="json")["total"] == "1000.00"


def test_willing_and_able_a_hardship_that_cannot_be_overcome_is_never_offered_a_restructure() -> (
    None
):
    """Section 2: restructuring is for borrowers "willing and able to pay"; section 9 asks
    whether the hardship is surmountable. Not surmountable → not eligible, even when recurring
    or past 30 DPD."""
    for prior, dpd in ((0, 45), (3, 5)):
        assert eligible(prior, dpd, False, DEFAULT)[0] is True
        ok, why = eligible(prior, dpd, False, DEFAULT, surmountable=False)
        assert ok is False and "not surmountable" in why
