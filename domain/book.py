"""The account's money book: what is owed, what was paid, and the penalty interest.

It is workflow state: a plain pydantic model, mutated only by the methods below, with "today"
always passed in (the borrower's local date from the workflow clock).

Penalty interest
----------------
Each day an instalment is past due (the first penalty day is the day after its due date) it
accrues `penalty_rate_daily` x the overdue principal of that day. Days with the same overdue
principal form one accrual period, whose amount is rounded half up to the currency once; a new
period starts when the base changes (a payment, an instalment falling due, a schedule change).
So the result does not depend on how often the workflow wakes up to call `accrue_to`.

A payment made on local day D is applied after D's penalty: day D still accrues on the old base
(that is the day DPD reached its value), the new base applies from D + 1. Penalties are never
recomputed backwards: events dated before `accrued_through` are applied as of that day.

`amount_overdue(today)` = overdue principal + penalty outstanding; the account is cured when it
reaches zero, and then nothing accrues any more.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from domain.account import Instalment
from domain.calendar import days_past_due
from domain.money import Money, check_precision, quantize, validate_currency

__all__ = [
    "AllocationOrder",
    "AppliedPayment",
    "BookInstalment",
    "LoanBook",
    "PaymentResult",
    "PenaltyPeriod",
    "PrincipalAllocation",
    "RestructureResult",
]

AllocationOrder = Literal["penalty_first", "principal_first"]

ZERO = Decimal(0)


class BookInstalment(BaseModel):
    seq: int
    due_date: date
    amount: Money
    unpaid: Money


class PrincipalAllocation(BaseModel):
    seq: int
    amount: Money


class AppliedPayment(BaseModel):
    """How one payment was split, kept so the timeline can explain every fen."""

    payment_id: str
    amount: Money
    on: date
    to_penalty: Money = ZERO
    to_principal: list[PrincipalAllocation] = Field(default_factory=list)
    to_credit: Money = ZERO

    @model_serializer(mode="wrap")
    def _without_empty_split(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A split folded away at continue-as-new (`LoanBook.compact`) is not written; it reads
        back as its defaults, so the record reads back the same."""
        data: dict[str, Any] = handler(self)
        if self.to_penalty == ZERO and not self.to_principal and self.to_credit == ZERO:
            for name in ("to_penalty", "to_principal", "to_credit"):
                data.pop(name, None)
        return data


class PaymentResult(BaseModel):
    """`new` is False for a repeated payment_id; `payment` is then the first application."""

    new: bool
    payment: AppliedPayment


class PenaltyPeriod(BaseModel):
    """Consecutive penalty days on one base; `amount` is rounded once for the whole period."""

    first_day: date
    last_day: date
    base: Money
    rate: Money
    amount: Money

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


class RestructureResult(BaseModel):
    """What accepting a restructure plan did to the book, to the cent: the penalty waived, the
    penalty moved into the plan, the instalments replaced, the plan's instalments now on it."""

    waived: Money
    rescheduled_penalty: Money
    replaced: list[int]
    instalments: list[BookInstalment]


class AdjustmentResult(BaseModel):
    """What an adjustment took off: penalty first, then principal."""

    amount: Money
    from_penalty: Money
    from_principal: Money


class LoanBook(BaseModel):
    currency: str
    penalty_rate_daily: Money
    allocation: AllocationOrder = "penalty_first"
    instalments: list[BookInstalment]
    penalty_periods: list[PenaltyPeriod] = Field(default_factory=list)
    penalty_paid: Money = ZERO
    credit: Money = ZERO
    accrued_through: date | None = None
    payments: list[AppliedPayment] = Field(default_factory=list)
    penalty_waived: Money = Field(
        default=ZERO, description="penalty forgiven (restructure, an upheld dispute)"
    )
    penalty_rescheduled: Money = Field(
        default=ZERO, description="penalty moved into a restructure plan's instalments"
    )
    replaced: list[BookInstalment] = Field(
        default_factory=list, description="instalments a restructure plan replaced, as they stood"
    )
    accrual_stopped_on: date | None = Field(
        default=None,
        description="the last penalty day of a charged-off account: nothing accrues after it",
    )
    penalty_earlier: Money = Field(
        default=ZERO,
        description="penalty of the periods folded at continue-as-new (all but the last)",
    )
    paid_earlier: Money = Field(
        default=ZERO,
        description="what the payments folded at continue-as-new paid (the oldest, beyond the "
        "newest ones kept for dedup)",
    )

    @model_serializer(mode="wrap")
    def _without_folded_zeros(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The folded sums are written only once something was folded, so a book that never
        was reads (and is sized) as before."""
        data: dict[str, Any] = handler(self)
        for name in ("penalty_earlier", "paid_earlier"):
            if getattr(self, name) == ZERO:
                data.pop(name, None)
        return data

    @classmethod
    def open(
        cls,
        instalments: list[Instalment],
        currency: str,
        penalty_rate_daily: Decimal,
        allocation: AllocationOrder = "penalty_first",
    ) -> LoanBook:
        validate_currency(currency)
        book = cls(
            currency=currency,
            penalty_rate_daily=penalty_rate_daily,
            allocation=allocation,
            instalments=[],
        )
        book.instalments, _, _ = book._merged(instalments)
        return book

    # ----------------------------------------------------------------------------- queries

    @property
    def applied_payment_ids(self) -> frozenset[str]:
        """Derived from `payments`, so the dedup set can never disagree with the ledger."""
        return frozenset(p.payment_id for p in self.payments)

    @property
    def penalty_accrued_total(self) -> Decimal:
        return self.penalty_earlier + sum((p.amount for p in self.penalty_periods), ZERO)

    @property
    def penalty_outstanding(self) -> Decimal:
        return (
            self.penalty_accrued_total
            - self.penalty_paid
            - self.penalty_waived
            - self.penalty_rescheduled
        )

    @property
    def principal_outstanding(self) -> Decimal:
        return sum((i.unpaid for i in self.instalments), ZERO)

    @property
    def balance(self) -> Decimal:
        """Everything still owed: all unpaid principal, due or not, plus outstanding penalty."""
        return self.principal_outstanding + self.penalty_outstanding

    @property
    def paid_total(self) -> Decimal:
        """Every payment counted once, including any part kept as credit."""
        return self.paid_earlier + sum((p.amount for p in self.payments), ZERO)

    def overdue_principal(self, today: date) -> Decimal:
        return sum((i.unpaid for i in self.instalments if i.due_date < today), ZERO)

    def amount_overdue(self, today: date) -> Decimal:
        """Overdue principal plus penalty outstanding; call `accrue_to(today)` first."""
        return self.overdue_principal(today) + self.penalty_outstanding

    def oldest_unpaid_due(self, today: date) -> date | None:
        """The DPD anchor: the earliest due date already passed with principal still unpaid."""
        dues = [i.due_date for i in self.instalments if i.unpaid > 0 and i.due_date < today]
        return min(dues, default=None)

    def dpd(self, today: date) -> int:
        return days_past_due(self.oldest_unpaid_due(today), today)

    def next_unpaid_due(self, today: date) -> date | None:
        """The next due date (today or later) with principal unpaid: the next pre-due moment."""
        dues = [i.due_date for i in self.instalments if i.unpaid > 0 and i.due_date >= today]
        return min(dues, default=None)

    def is_paid_off(self) -> bool:
        return self.balance == 0

    # ----------------------------------------------------------------------------- penalty

    def _base_on(self, day: date) -> Decimal:
        return self.overdue_principal(day)

    def accrue_to(self, today: date) -> Decimal:
        """Accrue penalty for every day up to and including `today`; returns the amount added.

        Lazily: the base changes only when an instalment falls due (day due + 1) or on an event
        that calls this first, so the days in between are summed per constant-base segment.
        """
        stop = self.accrual_stopped_on
        if stop is not None and today > stop:
            # Charged off: the days after the stop never accrue (and are never recomputed).
            added = self.accrue_to(stop) if (self.accrued_through or stop) <= stop else ZERO
            self.accrued_through = max(today, self.accrued_through or today)
            return added
        if not self.instalments:
            self.accrued_through = max(today, self.accrued_through or today)
            return ZERO
        start = (
            self.accrued_through + timedelta(days=1)
            if self.accrued_through is not None
            else min(i.due_date for i in self.instalments) + timedelta(days=1)
        )
        if start > today:
            return ZERO
        before = self.penalty_accrued_total
        changes = sorted(
            {
                i.due_date + timedelta(days=1)
                for i in self.instalments
                if start < i.due_date + timedelta(days=1) <= today
            }
        )
        bounds = [start, *changes, today + timedelta(days=1)]
        for first, after in zip(bounds, bounds[1:], strict=False):
            self._accrue_segment(first, after - timedelta(days=1), self._base_on(first))
        self.accrued_through = today
        return self.penalty_accrued_total - before

    def _accrue_segment(self, first: date, last: date, base: Decimal) -> None:
        if base <= 0 or self.penalty_rate_daily == 0:
            return
        rate = self.penalty_rate_daily
        previous = self.penalty_periods[-1] if self.penalty_periods else None
        if (
            previous is not None
            and previous.base == base
            and previous.rate == rate
            and previous.last_day + timedelta(days=1) == first
        ):
            first = previous.first_day
            self.penalty_periods.pop()
        days = (last - first).days + 1
        self.penalty_periods.append(
            PenaltyPeriod(
                first_day=first,
                last_day=last,
                base=base,
                rate=rate,
                amount=quantize(rate * base * days, self.currency),
            )
        )

    # ----------------------------------------------------------------------------- compaction

    def compact(self, fold_payments: int = 0) -> None:
        """What no later decision reads, folded (at continue-as-new, so the state a long episode
        carries stays bounded): every penalty period but the last becomes one sum (only the
        total is read; the last may still be extended by the next accrual); the oldest
        `fold_payments` payments become one sum (their ids are forgotten: the caller decides how
        many stay for dedup); how every payment was split is dropped (nothing reads it: the
        store has the payments, and the status only totals)."""
        if len(self.penalty_periods) > 1:
            folded = self.penalty_periods[:-1]
            self.penalty_earlier += sum((p.amount for p in folded), ZERO)
            self.penalty_periods = self.penalty_periods[-1:]
        fold = max(0, min(fold_payments, len(self.payments)))
        if fold:
            self.paid_earlier += sum((p.amount for p in self.payments[:fold]), ZERO)
            self.payments = self.payments[fold:]
        self.payments = [
            AppliedPayment(payment_id=p.payment_id, amount=p.amount, on=p.on) for p in self.payments
        ]

    # ----------------------------------------------------------------------------- events

    def payment_on_record(self, payment_id: str) -> AppliedPayment | None:
        """The payment this id already names, if any: a payment_id names one payment."""
        return next((p for p in self.payments if p.payment_id == payment_id), None)

    def apply_payment(self, payment_id: str, amount: Decimal, on: date) -> PaymentResult:
        """Allocate a payment made on local day `on`; a repeated payment_id changes nothing.

        penalty_first: outstanding penalty, then principal oldest instalment first.
        principal_first: principal of instalments due on or before `on` (oldest first), then
        penalty, then principal of later instalments.
        Whatever exceeds the whole balance is kept as `credit` (returned or reapplied by the
        loan system, not by us).
        """
        for existing in self.payments:
            if existing.payment_id == payment_id:
                return PaymentResult(new=False, payment=existing)
        if amount <= 0:
            raise ValueError("A payment amount must be greater than zero.")
        check_precision(amount, self.currency)
        self.accrue_to(on)
        remaining = amount
        to_penalty = ZERO
        allocations: dict[int, Decimal] = {}

        def pay_penalty() -> None:
            nonlocal remaining, to_penalty
            part = min(remaining, self.penalty_outstanding)
            if part > 0:
                self.penalty_paid += part
                to_penalty += part
                remaining -= part

        def pay_principal(instalments: list[BookInstalment]) -> None:
            nonlocal remaining
            for inst in instalments:
                part = min(remaining, inst.unpaid)
                if part > 0:
                    inst.unpaid -= part
                    allocations[inst.seq] = allocations.get(inst.seq, ZERO) + part
                    remaining -= part

        ordered = sorted(self.instalments, key=lambda i: i.due_date)
        if self.allocation == "penalty_first":
            pay_penalty()
            pay_principal(ordered)
        else:
            pay_principal([i for i in ordered if i.due_date <= on])
            pay_penalty()
            pay_principal([i for i in ordered if i.due_date > on])
        self.credit += remaining
        applied = AppliedPayment(
            payment_id=payment_id,
            amount=amount,
            on=on,
            to_penalty=to_penalty,
            to_principal=[PrincipalAllocation(seq=s, amount=a) for s, a in allocations.items()],
            to_credit=remaining,
        )
        self.payments.append(applied)
        return PaymentResult(new=True, payment=applied)

    def adjust(self, amount: Decimal, on: date) -> AdjustmentResult:
        """Take `amount` off what is owed on local day `on` (an upheld dispute or complaint,
        issue 17 item 7): penalty outstanding first (a disputed charge is most often a fee),
        then principal, oldest instalment first, as a payment would be allocated, but nothing
        is paid. Raises ValueError, changing nothing, for an amount below zero, finer than the
        currency's cents, or above the balance on `on`."""
        check_precision(amount, self.currency)
        if amount < 0:
            raise ValueError("An adjustment cannot be negative.")
        self.accrue_to(on)
        if amount > self.balance:
            raise ValueError(
                f"An adjustment of {amount} is more than the balance {self.balance} owed."
            )
        from_penalty = min(amount, self.penalty_outstanding)
        self.penalty_waived += from_penalty
        remaining = amount - from_penalty
        for inst in sorted(self.instalments, key=lambda i: i.due_date):
            part = min(remaining, inst.unpaid)
            inst.unpaid -= part
            remaining -= part
        return AdjustmentResult(
            amount=amount, from_penalty=from_penalty, from_principal=amount - from_penalty
        )

    def add_instalments(self, instalments: list[Instalment], on: date) -> list[int]:
        """Merge newly issued or changed instalments; returns the seqs that changed.

        A seq already on the book with the same due date and amount is a no-op (the loan
        system may resend). A seq with different data replaces the old terms; what was already
        paid toward it stays paid, and if that now exceeds the new amount the excess becomes
        credit. Penalty is accrued through `on` first, so the old terms govern days up to `on`.
        Raises ValueError, changing nothing, if the merged schedule's due dates would not
        increase with seq.
        """
        ordered, changed, extra_credit = self._merged(instalments)
        if changed:
            self.accrue_to(on)
            self.instalments = ordered
            self.credit += extra_credit
        return changed

    def _merged(
        self, instalments: list[Instalment]
    ) -> tuple[list[BookInstalment], list[int], Decimal]:
        by_seq = {i.seq: i.model_copy() for i in self.instalments}
        changed: list[int] = []
        extra_credit = ZERO
        for new in instalments:
            check_precision(new.amount, self.currency)
            old = by_seq.get(new.seq)
            if old is not None and old.due_date == new.due_date and old.amount == new.amount:
                continue
            paid = ZERO if old is None else old.amount - old.unpaid
            extra_credit += max(ZERO, paid - new.amount)
            by_seq[new.seq] = BookInstalment(
                seq=new.seq,
                due_date=new.due_date,
                amount=new.amount,
                unpaid=max(ZERO, new.amount - paid),
            )
            changed.append(new.seq)
        ordered = [by_seq[s] for s in sorted(by_seq)]
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.due_date <= a.due_date:
                raise ValueError(
                    f"Instalment {b.seq} would fall due on {b.due_date}, not after instalment "
                    f"{a.seq} ({a.due_date}); due dates must increase with seq."
                )
        return ordered, changed, extra_credit

    # ----------------------------------------------------------------------------- restructure

    def restructure(
        self, plan: list[Instalment], total: Decimal, paid_since_offer: Decimal, on: date
    ) -> RestructureResult:
        """Replace what is owed with a restructure plan accepted on local day `on`.

        `plan` are the plan's instalments (summing to `total`, the offer's balance less its
        waiver); `paid_since_offer` is what the borrower paid between the offer and this day
        (it counts toward the plan). Every unpaid instalment, due or not, is replaced (kept in
        `replaced` as it stood); the penalty outstanding beyond what the plan collects is waived
        (the offer's waiver, and what accrued while the offer was open), the rest is moved into
        the plan; the plan's instalments take their place, the money paid since the offer
        covering them oldest first. Afterwards the balance is `total - paid_since_offer` (not
        below zero), DPD counts from the plan's instalments, and penalty accrues only on overdue
        plan instalments. Raises ValueError, changing nothing, when the plan cannot be what is
        owed (a waiver larger than the penalty outstanding).
        """
        for inst in plan:
            check_precision(inst.amount, self.currency)
        if sum((i.amount for i in plan), ZERO) != total:
            raise ValueError(f"The plan's instalments do not sum to its total {total}.")
        self.accrue_to(on)
        owed = self.principal_outstanding + self.penalty_outstanding
        collects = max(ZERO, total - paid_since_offer)
        waived = owed - collects
        outstanding = self.penalty_outstanding
        if waived < 0 or waived > outstanding + self.penalty_paid:
            raise ValueError(
                f"The plan collects {collects} of {owed} owed: it can only forgive penalty "
                f"(outstanding {outstanding}, paid {self.penalty_paid})."
            )
        # Penalty the borrower paid while the offer was open, and the offer forgives, counts
        # toward the plan instead (the plan's total is fixed at the offer).
        refunded = max(ZERO, waived - outstanding)
        self.penalty_paid -= refunded
        self.penalty_waived += waived
        moved = self.penalty_outstanding
        self.penalty_rescheduled += moved
        kept = [i for i in self.instalments if i.unpaid == 0]
        self.replaced.extend(i.model_copy() for i in self.instalments if i.unpaid > 0)
        first_seq = max((i.seq for i in self.instalments), default=0) + 1
        covered = min(paid_since_offer, total)
        new: list[BookInstalment] = []
        for n, inst in enumerate(sorted(plan, key=lambda i: i.due_date)):
            part = min(covered, inst.amount)
            covered -= part
            new.append(
                BookInstalment(
                    seq=first_seq + n,
                    due_date=inst.due_date,
                    amount=inst.amount,
                    unpaid=inst.amount - part,
                )
            )
        self.instalments = kept + new
        self.credit += max(ZERO, paid_since_offer - total)
        return RestructureResult(
            waived=waived,
            rescheduled_penalty=moved,
            replaced=[i.seq for i in self.replaced],
            instalments=new,
        )
