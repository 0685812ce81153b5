"""Promises to pay (playbook section 7): when one may be taken, when it is kept or broken.

A promise is judged at the end of the borrower's local day `promised_date + grace_days`; a
payment within `tolerance_pct` of the promised amount counts as kept, because borrowers round
and banks deduct fees, and calling that "broken" would create an unfair negative record.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import add_months
from domain.money import Money

__all__ = [
    "Promise",
    "PromiseRules",
    "PromiseStatus",
    "deadline",
    "is_kept",
    "judge_promise",
    "needs_supervisor",
    "validate_plan",
    "validate_promise",
]

PromiseStatus = Literal["open", "kept", "broken"]


class PromiseRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_days_ahead: int = Field(default=7, ge=0)
    grace_days: int = Field(default=1, ge=0)
    tolerance_pct: Money = Field(default=Decimal("0.02"), ge=0, lt=1)
    broken_limit: int = Field(default=3, ge=1)
    broken_window_months: int = Field(default=6, ge=1)
    allocation: Literal["oldest_due_first", "pro_rata"] = Field(
        default="oldest_due_first",
        description="how a promise taken on a call task that names several of the borrower's "
        "loans is split across them (domain.contact.consolidation.allocate_promise)",
    )


class Promise(BaseModel):
    promise_id: str
    amount: Money
    promised_date: date
    pay_to: str | None = None
    made_on: date
    paid_toward: Money = Decimal(0)
    status: PromiseStatus = "open"
    resolved_on: date | None = None
    credited_before: Money = Field(
        default=Decimal(0),
        description="money paid on made_on before this promise, already counted for the last "
        "promise of a payment plan; it does not count again",
    )


def validate_promise(
    amount: Decimal,
    promised_date: date,
    today: date,
    balance: Decimal,
    rules: PromiseRules,
) -> list[str]:
    """Every reason the promise cannot be accepted, as sentences for a 422; empty when valid."""
    errors: list[str] = []
    if amount <= 0:
        errors.append("The promised amount must be greater than zero.")
    elif amount > balance:
        errors.append(f"The promised amount {amount} is more than the balance of {balance}.")
    latest = today + timedelta(days=rules.max_days_ahead)
    if promised_date < today:
        errors.append(f"The promised date {promised_date} is in the past (today is {today}).")
    elif promised_date > latest:
        errors.append(
            f"The promised date {promised_date} is more than {rules.max_days_ahead} days ahead; "
            f"the latest allowed date is {latest}."
        )
    return errors


MAX_PLAN_PROMISES = 12


def validate_plan(
    plan: list[tuple[Decimal, date]], today: date, balance: Decimal, rules: PromiseRules
) -> list[str]:
    """A partial-payment plan (PLAYBOOK.md section 9, short-term hardship): a series of
    promises, paid in order. Each promise is judged like a single one against the date before
    it (today for the first), so no gap is longer than the strategy allows a promise to be, and
    together they cannot promise more than the balance."""
    if not 2 <= len(plan) <= MAX_PLAN_PROMISES:
        return [f"A payment plan has 2 to {MAX_PLAN_PROMISES} promises, not {len(plan)}."]
    errors: list[str] = []
    previous = today
    for n, (amount, promised_date) in enumerate(plan, start=1):
        if n > 1 and promised_date <= previous:
            errors.append(f"Promise {n} of the plan ({promised_date}) is not after the one before.")
        else:
            errors.extend(
                f"Promise {n} of the plan: {error}"
                for error in validate_promise(amount, promised_date, previous, balance, rules)
            )
        previous = promised_date
    total = sum((amount for amount, _ in plan), Decimal(0))
    if total > balance:
        errors.append(f"The plan promises {total} in all, more than the balance of {balance}.")
    return errors


def deadline(promise: Promise, rules: PromiseRules) -> date:
    """The last local day on which paying still keeps the promise."""
    return promise.promised_date + timedelta(days=rules.grace_days)


def is_kept(paid_since_made: Decimal, promise: Promise, rules: PromiseRules) -> bool:
    return paid_since_made >= promise.amount - promise.amount * rules.tolerance_pct


def judge_promise(
    promise: Promise, paid_since_made: Decimal, today: date, rules: PromiseRules
) -> PromiseStatus:
    """Kept as soon as enough is paid; broken only once the deadline day has ended."""
    if is_kept(paid_since_made, promise, rules):
        return "kept"
    if today > deadline(promise, rules):
        return "broken"
    return "open"


def needs_supervisor(broken_dates: list[date], today: date, rules: PromiseRules) -> bool:
    """K broken promises within the last M calendar months escalate to a supervisor.

    The window includes its first day: `today` minus M months (day clamped to month end).
    """
    window_start = add_months(today, -rules.broken_window_months)
    recent = [d for d in broken_dates if window_start <= d <= today]
    return len(recent) >= rules.broken_limit
