"""Debt restructuring (PLAYBOOK.md sections 2 and 9): who may be offered a new schedule, the
offer itself, and how payments count toward an accepted plan.

Pure: "today" is always an argument (the borrower's local date from the workflow clock), so the
DebtRestructureWorkflow, the unit tests and the simulator compute the same offer.

The offer types live here, not in workflows/, because domain/ must not import workflows/ (which
imports Temporal). The restructure workflow and its messages carry the same
fields on the wire.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from pydantic import BaseModel, Field

from domain.money import Money, check_precision, currency_precision, validate_currency
from domain.policies import RestructurePolicy

__all__ = [
    "InstalmentProgress",
    "PlanInstalment",
    "RestructureOffer",
    "break_day",
    "build_offer",
    "eligible",
    "plan_progress",
]

ZERO = Decimal(0)


class PlanInstalment(BaseModel):
    seq: int
    due_date: date
    amount: Money


class RestructureOffer(BaseModel):
    """A new schedule for what is owed, with the penalty waiver the strategy allows."""

    instalments: list[PlanInstalment]
    instalment_amount: Money = Field(description="the regular instalment; the last may differ")
    waiver: Money
    total: Money = Field(description="what the plan collects: balance - waiver")
    expires_on: date = Field(description="the last borrower-local day the offer can be accepted")


class InstalmentProgress(BaseModel):
    """How much of one plan instalment the payments so far cover."""

    seq: int
    due_date: date
    amount: Money
    paid: Money
    owed: Money

    @property
    def covered(self) -> bool:
        return self.owed == 0


def eligible(
    prior_delinquencies: int,
    dpd: int,
    already_restructured_before: bool,
    policy: RestructurePolicy,
    surmountable: bool = True,
) -> tuple[bool, str]:
    """The data half of the playbook's eligibility rule (section 2), with a sentence saying why.

    "Willing and able to pay" is the collector's judgement, recorded as a long-term hardship
    outcome: a hardship the borrower cannot get over (`surmountable=False`) is not able, and is
    never offered a restructure. This checks the rest: the account is past
    `first_time_min_dpd` for the first time (it has never been restructured), or it is caught
    in recurring delinquency
    (`prior_delinquencies >= recurring_delinquencies`). An account restructured before is never
    eligible again: its broken plan goes back to collection rather than re-ageing the same debt a
    second time.
    """
    if prior_delinquencies < 0 or dpd < 0:
        raise ValueError("Prior delinquencies and DPD cannot be negative.")
    if not surmountable:
        return False, (
            "Not eligible: the hardship is not surmountable, so the borrower is not able to pay "
            "a new schedule (restructuring is for borrowers willing and able to pay)."
        )
    if already_restructured_before:
        return False, (
            "Not eligible: the account was already restructured once, and a debt is "
            "restructured only once."
        )
    if prior_delinquencies >= policy.recurring_delinquencies:
        return True, (
            f"Eligible: {prior_delinquencies} prior delinquencies is a recurring delinquency "
            f"(the strategy's threshold is {policy.recurring_delinquencies})."
        )
    if dpd >= policy.first_time_min_dpd:
        return True, (
            f"Eligible: the account is {dpd} days past due, past "
            f"{policy.first_time_min_dpd} DPD for the first time."
        )
    return False, (
        f"Not eligible yet: the account is {dpd} days past due (restructuring starts at "
        f"{policy.first_time_min_dpd}) and has {prior_delinquencies} prior delinquencies "
        f"(recurring from {policy.recurring_delinquencies})."
    )


def build_offer(
    balance: Decimal,
    penalty_accrued: Decimal,
    currency: str,
    today: date,
    policy: RestructurePolicy,
) -> RestructureOffer:
    """The strategy's offer for what is owed on `today` (borrower-local).

    `balance` is everything owed, penalty included; `penalty_accrued` is the penalty still
    outstanding within it (penalty already paid cannot be waived). `penalty_waiver_pct` of it is
    waived (rounded down to the currency: the waiver never exceeds what the strategy allows) and
    the rest is split into `policy.instalments` equal instalments, rounded down to the currency;
    the last instalment takes the remainder, so the plan sums to the total exactly and its last
    instalment is never smaller than the others. If the total is fewer minor units than the
    strategy's instalment count (a few yen), the plan has fewer instalments, one unit each at
    least, rather than instalments of zero.

    The first instalment falls due `interval_days` after today, the others every `interval_days`
    after that; the offer can be accepted through `today + offer_valid_days`.
    """
    validate_currency(currency)
    check_precision(balance, currency)
    check_precision(penalty_accrued, currency)
    if penalty_accrued < 0:
        raise ValueError("The accrued penalty cannot be negative.")
    if penalty_accrued > balance:
        raise ValueError(
            f"The accrued penalty {penalty_accrued} cannot exceed the balance {balance}, "
            "which includes it."
        )
    quantum = Decimal(1).scaleb(-currency_precision(currency))
    waiver = (penalty_accrued * policy.penalty_waiver_pct).quantize(quantum, rounding=ROUND_DOWN)
    total = balance - waiver
    if total <= 0:
        raise ValueError(
            f"Nothing is left to reschedule: the balance {balance} {currency} less the waiver "
            f"{waiver} is not positive."
        )
    count = min(policy.instalments, int(total / quantum))
    regular = (total / count).quantize(quantum, rounding=ROUND_DOWN)
    last = total - regular * (count - 1)
    step = timedelta(days=policy.interval_days)
    instalments = [
        PlanInstalment(
            seq=n,
            due_date=today + step * n,
            amount=regular if n < count else last,
        )
        for n in range(1, count + 1)
    ]
    return RestructureOffer(
        instalments=instalments,
        instalment_amount=regular,
        waiver=waiver,
        total=total,
        expires_on=today + timedelta(days=policy.offer_valid_days),
    )


def plan_progress(instalments: list[PlanInstalment], paid: Decimal) -> list[InstalmentProgress]:
    """What `paid` (everything paid toward the plan) covers, applied to instalments in order.

    In order, because a plan is judged by its oldest unpaid instalment, as DPD is; money beyond
    the whole plan covers the last instalment and is not spread any further.
    """
    remaining = max(ZERO, paid)
    progress: list[InstalmentProgress] = []
    for inst in sorted(instalments, key=lambda i: i.seq):
        part = min(remaining, inst.amount)
        remaining -= part
        progress.append(
            InstalmentProgress(
                seq=inst.seq,
                due_date=inst.due_date,
                amount=inst.amount,
                paid=part,
                owed=inst.amount - part,
            )
        )
    return progress


def break_day(due_date: date, policy: RestructurePolicy) -> date:
    """The last borrower-local day a plan instalment may still be paid in full: it breaks the
    plan at the end of this day, `missed_days_to_break` days after it fell due."""
    return due_date + timedelta(days=policy.missed_days_to_break)
