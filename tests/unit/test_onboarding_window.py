"""The due dates a loan system may send (issue 21, item 3): within the strategy's window around
the borrower's today, and an account overdue by more than a few weeks only as a migration."""

from __future__ import annotations

from datetime import date, timedelta

from domain.onboarding import OnboardingRules, due_date_problem

TODAY = date(2027, 3, 10)
RULES = OnboardingRules(max_days_overdue=180, max_days_ahead=366, max_days_late=30)


def test_an_account_started_the_day_before_its_first_instalment_is_welcome() -> None:
    assert due_date_problem([TODAY + timedelta(days=1)], TODAY, RULES, migration=False) is None


def test_a_due_date_before_the_charge_off_horizon_is_refused_even_for_a_migration() -> None:
    ancient = [date(1900, 1, 1)]
    problem = due_date_problem(ancient, TODAY, RULES, migration=True)
    assert problem is not None and "charge-off horizon" in problem


def test_a_due_date_more_than_a_year_ahead_is_refused() -> None:
    problem = due_date_problem([TODAY + timedelta(days=367)], TODAY, RULES, migration=False)
    assert problem is not None and "366 days after today" in problem


def test_a_new_account_may_be_a_few_weeks_late_but_not_more() -> None:
    assert due_date_problem([TODAY - timedelta(days=30)], TODAY, RULES, migration=False) is None
    problem = due_date_problem([TODAY - timedelta(days=31)], TODAY, RULES, migration=False)
    assert problem is not None and "migration" in problem


def test_a_book_migrated_from_another_system_may_start_up_to_the_horizon_overdue() -> None:
    overdue = [TODAY - timedelta(days=180), TODAY + timedelta(days=1)]
    assert due_date_problem(overdue, TODAY, RULES, migration=True) is None
