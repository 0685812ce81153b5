from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.promise import (
    Promise,
    PromiseRules,
    deadline,
    is_kept,
    judge_promise,
    needs_supervisor,
    validate_promise,
)

D = Decimal
RULES = PromiseRules()
TODAY = date(2026, 12, 10)
BALANCE = D("1206.00")


def _promise(amount: str = "1000.00", promised: date = date(2026, 12, 15)) -> Promise:
    return Promise(promise_id="PTP-1", amount=D(amount), promised_date=promised, made_on=TODAY)


def test_default_rules_match_the_policy() -> None:
    assert (RULES.max_days_ahead, RULES.grace_days, RULES.tolerance_pct) == (7, 1, D("0.02"))
    assert (RULES.broken_limit, RULES.broken_window_months) == (3, 6)


@pytest.mark.parametrize("days_ahead", [0, 1, 7])
def test_promise_for_today_up_to_the_maximum_days_ahead_is_accepted(days_ahead: int) -> None:
    promised = TODAY + timedelta(days=days_ahead)
    assert validate_promise(D("100.00"), promised, TODAY, BALANCE, RULES) == []


def test_promise_beyond_the_maximum_days_ahead_is_refused_naming_the_limit() -> None:
    errors = validate_promise(D("100.00"), TODAY + timedelta(days=8), TODAY, BALANCE, RULES)
    assert errors == [
        "The promised date 2026-12-18 is more than 7 days ahead; "
        "the latest allowed date is 2026-12-17."
    ]


def test_promise_dated_in_the_past_is_refused() -> None:
    errors = validate_promise(D("100.00"), TODAY - timedelta(days=1), TODAY, BALANCE, RULES)
    assert errors == ["The promised date 2026-12-09 is in the past (today is 2026-12-10)."]


@pytest.mark.parametrize("amount", ["0", "-1.00"])
def test_promise_of_zero_or_less_is_refused(amount: str) -> None:
    errors = validate_promise(D(amount), TODAY, TODAY, BALANCE, RULES)
    assert errors == ["The promised amount must be greater than zero."]


def test_promise_above_the_balance_is_refused_and_equal_to_it_is_accepted() -> None:
    assert validate_promise(BALANCE, TODAY, TODAY, BALANCE, RULES) == []
    errors = validate_promise(D("1206.01"), TODAY, TODAY, BALANCE, RULES)
    assert errors == ["The promised amount 1206.01 is more than the balance of 1206.00."]


def test_every_problem_with_a_promise_is_reported_at_once() -> None:
    errors = validate_promise(D("0"), TODAY - timedelta(days=3), TODAY, BALANCE, RULES)
    assert len(errors) == 2


def test_deadline_is_the_promised_date_plus_grace_days() -> None:
    assert deadline(_promise(), RULES) == date(2026, 12, 16)
    assert deadline(_promise(), PromiseRules(grace_days=0)) == date(2026, 12, 15)


def test_paying_within_the_tolerance_keeps_the_promise() -> None:
    promise = _promise("1000.00")
    assert is_kept(D("1000.00"), promise, RULES)
    assert is_kept(D("980.00"), promise, RULES)  # exactly 2% short
    assert not is_kept(D("979.99"), promise, RULES)
    assert is_kept(D("1500.00"), promise, RULES)


def test_zero_tolerance_needs_the_full_amount() -> None:
    rules = PromiseRules(tolerance_pct=D("0"))
    assert not is_kept(D("999.99"), _promise("1000.00"), rules)
    assert is_kept(D("1000.00"), _promise("1000.00"), rules)


def test_promise_is_kept_as_soon_as_enough_is_paid_even_before_the_date() -> None:
    assert judge_promise(_promise(), D("1000.00"), TODAY, RULES) == "kept"


def test_promise_stays_open_through_the_last_grace_day() -> None:
    promise = _promise()
    assert judge_promise(promise, D("0"), date(2026, 12, 15), RULES) == "open"
    assert judge_promise(promise, D("500.00"), date(2026, 12, 16), RULES) == "open"


def test_promise_is_broken_the_day_after_the_grace_period_when_not_paid_enough() -> None:
    promise = _promise()
    assert judge_promise(promise, D("979.99"), date(2026, 12, 17), RULES) == "broken"


def test_payment_in_the_grace_day_still_keeps_the_promise() -> None:
    assert judge_promise(_promise(), D("980.00"), date(2026, 12, 17), RULES) == "kept"


def test_promise_round_trips_through_json_with_amounts_as_strings() -> None:
    promise = _promise()
    assert '"amount":"1000.00"' in promise.model_dump_json()
    assert Promise.model_validate_json(promise.model_dump_json()) == promise


# --------------------------------------------------------------------------- supervisor


def test_three_broken_promises_within_six_months_need_a_supervisor() -> None:
    today = date(2026, 12, 15)
    broken = [date(2026, 7, 1), date(2026, 9, 1), date(2026, 12, 1)]
    assert needs_supervisor(broken, today, RULES)


def test_two_broken_promises_do_not_need_a_supervisor() -> None:
    assert not needs_supervisor([date(2026, 11, 1), date(2026, 12, 1)], date(2026, 12, 15), RULES)


def test_window_includes_the_day_exactly_six_calendar_months_ago() -> None:
    today = date(2026, 12, 15)
    assert needs_supervisor([date(2026, 6, 15), date(2026, 9, 1), date(2026, 12, 1)], today, RULES)


def test_promise_broken_the_day_before_the_window_does_not_count() -> None:
    today = date(2026, 12, 15)
    assert not needs_supervisor(
        [date(2026, 6, 14), date(2026, 9, 1), date(2026, 12, 1)], today, RULES
    )


def test_window_start_clamps_to_the_end_of_a_shorter_month() -> None:
    # 31 August minus 6 months is 28 February (2026 is not a leap year).
    today = date(2026, 8, 31)
    inside = [date(2026, 2, 28), date(2026, 5, 1), date(2026, 8, 1)]
    outside = [date(2026, 2, 27), date(2026, 5, 1), date(2026, 8, 1)]
    assert needs_supervisor(inside, today, RULES)
    assert not needs_supervisor(outside, today, RULES)


def test_limit_and_window_come_from_the_rules() -> None:
    rules = PromiseRules(broken_limit=2, broken_window_months=1)
    today = date(2026, 12, 15)
    assert needs_supervisor([date(2026, 11, 15), date(2026, 12, 1)], today, rules)
    assert not needs_supervisor([date(2026, 11, 14), date(2026, 12, 1)], today, rules)


def test_future_dated_broken_promises_are_ignored() -> None:
    today = date(2026, 12, 15)
    assert not needs_supervisor(
        [date(2026, 12, 1), date(2026, 12, 10), date(2026, 12, 20)], today, RULES
    )
