"""Which due dates a loan system may send, and when an account is a migration.

A due date in 1900 was once accepted, and at the same instant the ladder caught up on every step
it had "missed": a lawyer's letter, asset preservation, a lawsuit. A loan system calls one day
before an instalment falls due, so a schedule far in the past is either a mistake or a book
migrated from another system. The strategy bounds the window (`onboarding:`); an account whose
oldest instalment is overdue by more than a few weeks must say that it is a migration
(`Account.migration`, with the reason), and is then started at its current stage's entry actions
with no legal step on arrival (legal steps need approval).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["OnboardingRules", "due_date_problem"]


class OnboardingRules(BaseModel):
    """The due dates an account may start with, relative to the borrower's today."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_days_overdue: int = Field(
        default=180, ge=1, description="the oldest due date: the charge-off horizon in the past"
    )
    max_days_ahead: int = Field(default=366, ge=1, description="the latest due date ahead")
    max_days_late: int = Field(
        default=30,
        ge=0,
        description="how overdue an account may be and still start as a new one; beyond it the "
        "account must be flagged as a migration",
    )


def due_date_problem(
    due_dates: list[date], today: date, rules: OnboardingRules, migration: bool
) -> str | None:
    """Why a schedule cannot start today, or None when it can."""
    oldest, latest = min(due_dates), max(due_dates)
    if oldest < today - timedelta(days=rules.max_days_overdue):
        return (
            f"The oldest due date {oldest} is more than {rules.max_days_overdue} days before "
            f"today ({today}), past the strategy's charge-off horizon: no collection can start."
        )
    if latest > today + timedelta(days=rules.max_days_ahead):
        return (
            f"The due date {latest} is more than {rules.max_days_ahead} days after today "
            f"({today}): start the account one day before its first instalment falls due."
        )
    if not migration and oldest < today - timedelta(days=rules.max_days_late):
        return (
            f"The oldest due date {oldest} is {(today - oldest).days} days before today "
            f"({today}), more than the {rules.max_days_late} a new account may be late: an "
            "account brought over from another system says so with `migration` and its reason."
        )
    return None
