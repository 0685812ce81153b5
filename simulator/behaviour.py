"""Borrower behaviour models: named, seeded probability models that react to what the workflow did.

Pure: no I/O, no clock. The simulator tells a `Borrower` what reached it (an SMS, a voice
reminder, a letter, a field visit) and asks it what happens when a collector calls; the borrower
answers with a `CallAnswer` and keeps a diary of payments it means to make (`payments_due`).
Every draw comes from the borrower's own `random.Random`, seeded from (seed, loan_id), so the same
seed and the same sequence of events give the same behaviour whatever else runs alongside.

The models (PLAYBOOK.md sections 2 and 6-12), each with its parameters in `MODELS`:

- `forgetful` — only late, not delinquent: the first reminder it notices makes it pay in full
  within a day or two; answers most calls and keeps the promise it makes.
- `short_of_cash` — pays part (about half) soon after a contact, the rest on its next payday
  (one to three weeks later); promises the part it can pay.
- `short_term_hardship` — reports a short, surmountable hardship on the first call it answers
  (the strategy grants a grace hold), and pays in full once the grace is over.
- `long_term_hardship` — reports a long hardship (job lost); accepts the restructure offer the
  workflow makes and pays the plan's instalments as they fall due.
- `promise_breaker` — answers and promises, but mostly does not pay (section 7, "stalling");
  after a few broken promises pays now and then.
- `unwilling` — refuses with a complaint, then a grievance against the collector (section 10);
  pays only with some chance once legal pressure (a lawyer's letter) arrives.
- `skip` — never reachable: every number is dead, the address invalid, never paid since the
  loan was made (`history.ever_paid = false`, section 12). Never pays.
- `deceased` — a relative answers and reports the death (section 8); verified, written off.
- `fraud` — a synthetic identity: the numbers reach strangers (wrong number), nobody meets the
  field agent, nothing is ever paid.

Contacts raise the chance of paying soon: each model has a small spontaneous daily chance of
paying and a much larger one right after a contact it notices (a call it answers is always
noticed; an SMS, voice message or letter only with the model's `notice` probability).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Literal

__all__ = [
    "MODELS",
    "Borrower",
    "CallAnswer",
    "ModelParams",
    "PlannedPayment",
    "rng_for",
]

Contact = Literal["sms", "voice", "letter", "field_visit", "lawyer_letter", "call"]


@dataclass(frozen=True)
class ModelParams:
    """One behaviour model's probabilities.

    answer: chance a call to the borrower is answered by the borrower (right-party contact).
    notice: chance an SMS, voice reminder or letter is noticed (a call answered always is).
    react: chance a noticed contact makes the borrower plan a payment.
    react_days: (min, max) days from the contact to that payment.
    spontaneous: daily chance of deciding to pay with no contact at all (while delinquent).
    part: fraction of what is due paid by the first payment (1 = in full).
    rest_days: (min, max) days from a part payment to the remainder.
    keep: chance a promise to pay is kept.
    """

    answer: float
    notice: float
    react: float
    react_days: tuple[int, int]
    spontaneous: float
    part: float = 1.0
    rest_days: tuple[int, int] = (7, 21)
    keep: float = 0.9
    pays: bool = True
    ever_paid: bool = True
    prior_delinquencies: int = 0


MODELS: dict[str, ModelParams] = {
    "forgetful": ModelParams(
        answer=0.65, notice=0.45, react=0.85, react_days=(0, 1), spontaneous=0.02, keep=0.95
    ),
    "short_of_cash": ModelParams(
        answer=0.6,
        notice=0.4,
        react=0.6,
        react_days=(0, 3),
        spontaneous=0.015,
        part=0.5,
        rest_days=(7, 21),
        keep=0.7,
    ),
    "short_term_hardship": ModelParams(
        answer=0.55, notice=0.3, react=0.2, react_days=(1, 4), spontaneous=0.005, keep=0.6
    ),
    "long_term_hardship": ModelParams(
        answer=0.55,
        notice=0.3,
        react=0.05,
        react_days=(2, 6),
        spontaneous=0.002,
        keep=0.4,
        # caught in a cycle of recurring delinquency: eligible to restructure
        prior_delinquencies=2,
    ),
    "promise_breaker": ModelParams(
        answer=0.65, notice=0.3, react=0.1, react_days=(1, 5), spontaneous=0.004, keep=0.2
    ),
    "unwilling": ModelParams(
        answer=0.45, notice=0.1, react=0.02, react_days=(2, 10), spontaneous=0.001, keep=0.1
    ),
    "skip": ModelParams(
        answer=0.0,
        notice=0.0,
        react=0.0,
        react_days=(0, 0),
        spontaneous=0.0,
        pays=False,
        ever_paid=False,
    ),
    "deceased": ModelParams(
        answer=0.6, notice=0.0, react=0.0, react_days=(0, 0), spontaneous=0.0, pays=False
    ),
    "fraud": ModelParams(
        answer=0.0, notice=0.0, react=0.0, react_days=(0, 0), spontaneous=0.0, pays=False
    ),
}

CONTACT_WEIGHT: dict[str, float] = {
    "sms": 1.0,
    "voice": 1.0,
    "letter": 1.0,
    "lawyer_letter": 1.0,
    "field_visit": 1.0,
    "call": 1.0,
}


def rng_for(seed: int, loan_id: str) -> random.Random:
    """One generator per account: sha256 of (seed, loan_id), stable across processes."""
    digest = hashlib.sha256(f"{seed}\x00{loan_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class PlannedPayment:
    """A payment the borrower means to make on `on`: a fraction of what is due then, or a fixed
    amount (a promise, a plan instalment)."""

    on: date
    fraction: Decimal = Decimal("1")
    amount: Decimal | None = None
    reason: str = "reaction"


@dataclass(frozen=True)
class CallAnswer:
    """What happened on a call, in the vocabulary of CONTRACT.md "Task and outcomes".

    `promise_days` and `promise_fraction` shape a promise (the simulator turns them into an
    amount and a date); `hardship_term` a hardship; `reason` a refusal.
    """

    outcome: str
    promise_days: int | None = None
    promise_fraction: Decimal = Decimal("1")
    reason: str | None = None
    hardship_term: Literal["short", "long"] | None = None
    broken_promise_reason: str | None = None
    missed_payment_reason: str | None = None


MODEL_REASONS: dict[str, str] = {
    "forgetful": "forgot",
    "short_of_cash": "short_of_cash",
    "short_term_hardship": "illness",
    "long_term_hardship": "lost_income",
    "promise_breaker": "short_of_cash",
    "unwilling": "disputes_debt",
}
"""Why each model says it missed the payment (PLAYBOOK.md section 2: find out why), told on the
first call it answers. Chosen by the model, not drawn: the seeded draws stay as they were, so a
seed gives the same run as before reasons existed, plus the reasons."""


@dataclass
class Borrower:
    """A borrower of one model, with its memory of what happened in this episode."""

    loan_id: str
    model: str
    rng: random.Random
    planned: list[PlannedPayment] = field(default_factory=list)
    noticed: int = 0
    calls_answered: int = 0
    promises: int = 0
    broken: int = 0
    hardship_reported: bool = False
    refusals: int = 0
    number_reported_dead: bool = False
    deceased_reported: bool = False
    paid_part: bool = False
    restructured: bool = False

    @property
    def params(self) -> ModelParams:
        return MODELS[self.model]

    # --------------------------------------------------------------------- what reaches them

    def contacted(self, kind: str, today: date) -> None:
        """An automated contact (SMS, voice reminder, letter, visit) reached the borrower."""
        p = self.params
        if kind == "lawyer_letter" and self.model == "unwilling":
            # Section 10: explain the legal consequences; some unwilling borrowers then pay.
            if self.rng.random() < 0.3:
                self._plan(today, self.rng.randint(3, 14), Decimal("1"), "legal pressure")
            return
        if self.rng.random() < p.notice * CONTACT_WEIGHT.get(kind, 1.0):
            self._noticed(today)

    def _noticed(self, today: date) -> None:
        p = self.params
        self.noticed += 1
        if not p.pays or self.planned:
            return
        if self.rng.random() < p.react:
            self._plan(today, self.rng.randint(*p.react_days), Decimal(str(p.part)), "reaction")

    def _plan(self, today: date, days: int, fraction: Decimal, reason: str) -> None:
        self.planned.append(
            PlannedPayment(on=today + timedelta(days=days), fraction=fraction, reason=reason)
        )

    def new_day(self, today: date, delinquent: bool) -> None:
        """The spontaneous daily chance of paying, with no contact (drawn once per day)."""
        draw = self.rng.random()
        p = self.params
        if delinquent and p.pays and not self.planned and draw < p.spontaneous:
            self._plan(today, 0, Decimal(str(p.part)), "spontaneous")

    # --------------------------------------------------------------------------- calls

    def answer_call(self, today: date, purpose: str = "collect") -> CallAnswer:
        """A collector calls one of the borrower's numbers (or a contact person's); on the
        first call they answer themself, they also say why they missed the payment."""
        answered_before = self.calls_answered
        answer = self._answer_call(today, purpose)
        reason = MODEL_REASONS.get(self.model)
        if answered_before == 0 and self.calls_answered == 1 and reason is not None:
            answer = replace(answer, missed_payment_reason=reason)
        return answer

    def _answer_call(self, today: date, purpose: str) -> CallAnswer:
        p = self.params
        rng = self.rng
        draw = rng.random()
        if self.model == "skip":
            if not self.number_reported_dead:
                self.number_reported_dead = True
                return CallAnswer("number_dead")
            return CallAnswer("number_dead" if draw < 0.5 else "no_answer")
        if self.model == "fraud":
            return CallAnswer("wrong_number" if draw < 0.6 else "no_answer")
        if self.model == "deceased":
            if draw < p.answer and not self.deceased_reported:
                self.deceased_reported = True
                return CallAnswer("deceased_reported")
            return CallAnswer("no_answer")
        if purpose == "message":
            # A contact person asked to pass a message: they do, sometimes.
            if draw < 0.5:
                self._noticed(today)
                return CallAnswer("third_party")
            return CallAnswer("no_answer")
        if draw >= p.answer:
            return CallAnswer("busy" if rng.random() < 0.25 else "no_answer")
        self.calls_answered += 1
        self.noticed += 1
        if self.model == "unwilling":
            self.refusals += 1
            reason = (
                "complaint"
                if self.refusals == 1
                else ("collector_grievance" if self.refusals == 2 else "other")
            )
            return CallAnswer("refused", reason=reason)
        if self.model == "short_term_hardship" and not self.hardship_reported:
            self.hardship_reported = True
            # Pays in full once the grace (14 days by default) is over.
            if rng.random() < 0.85:
                self._plan(today, rng.randint(12, 20), Decimal("1"), "after grace")
            return CallAnswer("hardship", hardship_term="short")
        if self.model == "long_term_hardship" and not self.hardship_reported:
            self.hardship_reported = True
            return CallAnswer("hardship", hardship_term="long")
        if self.planned:
            # Already means to pay: says so.
            first = min(self.planned, key=lambda x: x.on)
            return CallAnswer(
                "paid_claimed" if first.on <= today else "promise_to_pay",
                promise_days=max(1, (first.on - today).days),
                promise_fraction=first.fraction,
            )
        if not p.pays:
            return CallAnswer("no_answer")
        return self._promise(today)

    def _promise(self, today: date) -> CallAnswer:
        p = self.params
        rng = self.rng
        days = rng.randint(1, 5 if self.model == "promise_breaker" else 3)
        fraction = Decimal(str(p.part))
        self.promises += 1
        keep = p.keep if not (self.model == "promise_breaker" and self.broken >= 3) else 0.5
        if rng.random() < keep:
            self.planned.append(
                PlannedPayment(on=today + timedelta(days=days), fraction=fraction, reason="promise")
            )
        else:
            self.broken += 1
        return CallAnswer(
            "promise_to_pay",
            promise_days=days,
            promise_fraction=fraction,
            broken_promise_reason="stalling" if self.broken else None,
        )

    def visit(self, today: date) -> str:
        """A field agent comes to the address: `visited_met`, `visited_not_met` or
        `address_invalid`."""
        if self.model in ("skip", "fraud"):
            return "address_invalid"
        if self.model == "deceased":
            return "visited_not_met"
        if self.rng.random() < self.params.answer:
            self._noticed(today)
            return "visited_met"
        return "visited_not_met"

    def restructure_offered(self) -> bool:
        """Whether the borrower accepts the restructure offer the workflow made."""
        accept = self.model == "long_term_hardship" and self.rng.random() < 0.9
        self.restructured = self.restructured or accept
        return accept

    # ----------------------------------------------------------------------------- paying

    def payments_due(self, today: date, due: Decimal, currency_places: int = 2) -> list[Decimal]:
        """The amounts to pay today, given `due` (what it takes to be current now).

        A part payment schedules the remainder on the next payday.
        """
        ready = [x for x in self.planned if x.on <= today]
        if not ready or due <= 0:
            self.planned = [x for x in self.planned if x.on > today] if due > 0 else []
            return []
        self.planned = [x for x in self.planned if x.on > today]
        quantum = Decimal(1).scaleb(-currency_places)
        amounts: list[Decimal] = []
        for planned in ready:
            if planned.amount is not None:
                amounts.append(planned.amount)
                continue
            if planned.fraction < 1 and not self.paid_part:
                amount = (due * planned.fraction).quantize(quantum, rounding=ROUND_DOWN)
                self.paid_part = True
                rest = self.params.rest_days
                self._plan(today, self.rng.randint(*rest), Decimal("1"), "payday")
            else:
                amount = due
            if amount > 0:
                amounts.append(amount)
            break  # one payment a day from the diary; anything else waits for tomorrow
        return amounts

    def plan_instalments(self, first: date, amount: Decimal, count: int, interval: int) -> None:
        """An accepted restructure plan: pay each instalment on its date (with a small chance
        of missing one)."""
        self.planned = []
        for n in range(count):
            if self.rng.random() < 0.95:
                self.planned.append(
                    PlannedPayment(
                        on=first + timedelta(days=interval * n), amount=amount, reason="plan"
                    )
                )
