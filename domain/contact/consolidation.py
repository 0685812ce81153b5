"""Consolidation across a borrower's loans (issue 16 item 2; CONTRACT.md v1.1: "one reminder per
channel per day that names every overdue loan"; docs/borrowers.md "Consolidation").

A borrower with three overdue loans is one person: they get one text, one recorded call and one
letter of a kind a day, each naming every overdue loan, and collectors get one call task for the
person that lists the loans. The borrower's authority (the BorrowerWorkflow) decides it while it
grants contacts, with this module:

- `cover`: a loan's reminder (SMS, voice, letter) is **covered** when, that local day, another
  loan's message on the same channel (a letter: of the same template) already named this loan;
  a loan's call task is covered when another loan's call task that names it is still open and
  its window overlaps. A covered contact is not a contact: nothing is sent, nothing counted.
- `names_for`: the first message or call task of the day names every loan overdue on that day,
  from what each loan last reported of its money (`LoanDue`).
- `allocate_promise`: a promise taken on a call task that names several loans is split across
  them as the strategy says (`PromiseRules.allocation`).

Pure: no clock, no Temporal; instants and days are passed in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.money import quantize

__all__ = [
    "MAX_REMEMBERED",
    "AllocationRule",
    "CandidateShape",
    "ConsolidationBook",
    "Coverage",
    "DueLine",
    "LoanDue",
    "NamedLoan",
    "OpenCall",
    "SentMessage",
    "SharedOutcome",
    "allocate_promise",
    "cover",
    "message_key",
    "names_due_for",
    "names_for",
    "note_granted",
    "scheduled_dues",
]

MAX_REMEMBERED = 500
"""Covered answers and shared outcomes remembered for retried requests (as the grants are)."""

AllocationRule = Literal["oldest_due_first", "pro_rata"]


class DueLine(BaseModel):
    """An instalment of a loan still unpaid: when it falls (fell) due and what is left of it."""

    due_date: date
    unpaid: Decimal


class LoanDue(BaseModel):
    """What a loan last told its borrower about its money (with every grant request): enough to
    name it in another loan's message on a later day without asking it again."""

    loan_id: str
    currency: str
    as_of: date = Field(description="the loan's local day when it reported")
    amount_overdue: Decimal = Field(description="overdue principal and penalty on `as_of`")
    balance: Decimal
    unpaid: list[DueLine] = Field(default_factory=list)

    def overdue_on(self, day: date) -> Decimal:
        """Overdue on `day`: as reported, plus the instalments that fell due since (penalty
        accrued since the report is not known here; the loan's own record has it)."""
        fallen = sum(
            (line.unpaid for line in self.unpaid if self.as_of <= line.due_date < day), Decimal(0)
        )
        return self.amount_overdue + fallen if day >= self.as_of else self.amount_overdue

    def oldest_on(self, day: date) -> date | None:
        """The oldest due date unpaid on `day` (the loan's DPD anchor)."""
        return min((line.due_date for line in self.unpaid if line.due_date < day), default=None)

    def falling_due(self, day: date, until: date) -> NamedLoan | None:
        """The loan as a pre-due reminder on `day` names it: nothing overdue on `day` and an
        instalment falling due from `day` to `until` (the earliest such, its unpaid amount)."""
        if day < self.as_of or self.overdue_on(day) > 0:
            return None
        lines = sorted(
            (line for line in self.unpaid if day <= line.due_date <= until and line.unpaid > 0),
            key=lambda line: line.due_date,
        )
        if not lines:
            return None
        return NamedLoan(
            loan_id=self.loan_id,
            currency=self.currency,
            amount_overdue=Decimal(0),
            balance=self.balance,
            amount_due=lines[0].unpaid,
            due_on=lines[0].due_date,
        )

    def named(self, day: date) -> NamedLoan:
        return NamedLoan(
            loan_id=self.loan_id,
            currency=self.currency,
            amount_overdue=self.overdue_on(day),
            oldest_due=self.oldest_on(day),
            balance=self.balance,
        )


class NamedLoan(BaseModel):
    """One loan a consolidated message or call task names, as the borrower knew it then."""

    loan_id: str
    currency: str
    amount_overdue: Decimal
    oldest_due: date | None = None
    balance: Decimal | None = None
    amount_due: Decimal | None = Field(
        default=None, description="a pre-due reminder: the instalment falling due"
    )
    due_on: date | None = Field(default=None, description="a pre-due reminder: when it falls due")


class CandidateShape(BaseModel):
    """What the authority needs to consolidate one candidate contact of a loan: a reminder
    message (its channel and, for letters, template) or a call task (its window), and the
    borrower's local day it falls on. A pre-due reminder (`stage` "pre_due") is its own kind of
    message: the day's pre-due message names the loans falling due (up to `due_until`, the
    asking loan's due date), the day's overdue message the loans overdue."""

    grant_id: str
    kind: Literal["message", "call"]
    channel: str
    day: date
    at: AwareDatetime
    stage: Literal["overdue", "pre_due"] = "overdue"
    due_until: date | None = Field(default=None, description="a pre-due reminder's due date")
    template: str | None = None
    until: AwareDatetime | None = Field(default=None, description="a call task's window end")
    task_id: str | None = None


class SentMessage(BaseModel):
    """The day's message on a channel (and template): who sent it and whom it named."""

    grant_id: str
    loan_id: str
    at: AwareDatetime
    names: list[str]


class OpenCall(BaseModel):
    """A call task of one loan that names several: while it is open, their call steps attach."""

    task_id: str
    grant_id: str
    loan_id: str
    not_before: AwareDatetime
    not_after: AwareDatetime
    names: list[str]


class Coverage(BaseModel):
    """The answer for a covered candidate: the message or call task that covers it."""

    grant_id: str
    by_grant: str = Field(description="the covering contact's grant id (loan:episode:seq)")
    by_loan: str
    channel: str
    task_id: str | None = Field(default=None, description="the covering call task")


class SharedOutcome(BaseModel):
    """An outcome recorded on a call task that names several loans, passed by the task's loan
    to its borrower, who passes it on to each other loan named (`key`: loan and action seq)."""

    key: str
    task_id: str
    from_loan: str
    outcome: str
    at: AwareDatetime
    loans: list[str]
    shares: dict[str, Decimal] = Field(default_factory=dict)
    promised_date: date | None = None
    pay_to: str | None = None
    recorded_by: str | None = None


class ConsolidationBook(BaseModel):
    """What the authority keeps for consolidation: each loan's money as last reported, the
    day's messages by key, the open consolidated call tasks, and answers already given."""

    dues: dict[str, LoanDue] = Field(default_factory=dict)
    messages: dict[str, SentMessage] = Field(default_factory=dict)
    calls: dict[str, OpenCall] = Field(default_factory=dict)
    covered: dict[str, Coverage] = Field(default_factory=dict)
    outcomes_seen: list[str] = Field(default_factory=list)

    def pruned(self, before: datetime) -> ConsolidationBook:
        """Only messages and calls a later contact could still meet."""
        return self.model_copy(
            update={
                "messages": {k: m for k, m in self.messages.items() if m.at >= before},
                "calls": {k: c for k, c in self.calls.items() if c.not_after >= before},
                "covered": dict(list(self.covered.items())[-MAX_REMEMBERED:]),
                "outcomes_seen": self.outcomes_seen[-MAX_REMEMBERED:],
            }
        )


def scheduled_dues(loan_id: str, currency: str, unpaid: list[DueLine]) -> LoanDue:
    """A loan's money as its schedule tells it when it joins its borrower, before the loan has
    reported itself: `as_of` is the start of time, so on any day each instalment then past due
    counts as overdue (principal only: no penalty is known yet). The loan's first report replaces
    it; until then the borrower's first pre-due or overdue message can name the loan."""
    return LoanDue(
        loan_id=loan_id,
        currency=currency,
        as_of=date.min,
        amount_overdue=Decimal(0),
        balance=sum((line.unpaid for line in unpaid), Decimal(0)),
        unpaid=list(unpaid),
    )


def message_key(channel: str, day: date, template: str | None, stage: str = "overdue") -> str:
    """One message per channel and local day; a letter per day and template. A pre-due
    reminder is a message of its own kind (docs/borrowers.md: about money not yet owed)."""
    if stage == "pre_due":
        return f"{channel}:pre_due:{day.isoformat()}"
    if channel == "letter":
        return f"letter:{day.isoformat()}:{template or ''}"
    return f"{channel}:{day.isoformat()}"


def names_for(book: ConsolidationBook, day: date) -> list[NamedLoan]:
    """Every loan of the borrower overdue on `day`, the oldest due first (then by loan id)."""
    named = [due.named(day) for due in book.dues.values()]
    overdue = [n for n in named if n.amount_overdue > 0]
    return sorted(overdue, key=lambda n: (n.oldest_due or date.max, n.loan_id))


def names_due_for(book: ConsolidationBook, day: date, until: date) -> list[NamedLoan]:
    """Every loan of the borrower with nothing overdue on `day` and an instalment falling due
    from `day` to `until`, the earliest due first (then by loan id): a pre-due message's loans."""
    named = [n for due in book.dues.values() if (n := due.falling_due(day, until)) is not None]
    return sorted(named, key=lambda n: (n.due_on or date.max, n.loan_id))


def cover(
    book: ConsolidationBook,
    loan_id: str,
    shapes: list[CandidateShape],
    pending_tasks: set[str],
) -> dict[str, Coverage]:
    """The candidates another loan's message or call task already covers, by grant id.

    `pending_tasks`: the call tasks still open as the loans last reported (a task worked or
    cancelled leaves its loan's records, and covers nothing from then on). A candidate answered
    before is answered the same again."""
    found: dict[str, Coverage] = {}
    for shape in shapes:
        known = book.covered.get(shape.grant_id)
        if known is not None:
            found[shape.grant_id] = known
            continue
        if shape.kind == "message":
            sent = book.messages.get(
                message_key(shape.channel, shape.day, shape.template, shape.stage)
            )
            if sent is not None and sent.loan_id != loan_id and loan_id in sent.names:
                found[shape.grant_id] = Coverage(
                    grant_id=shape.grant_id,
                    by_grant=sent.grant_id,
                    by_loan=sent.loan_id,
                    channel=shape.channel,
                )
            continue
        until = shape.until or shape.at
        for call in sorted(book.calls.values(), key=lambda c: (c.not_before, c.task_id)):
            if (
                call.loan_id != loan_id
                and loan_id in call.names
                and call.task_id in pending_tasks
                and call.not_before < until
                and shape.at < call.not_after
            ):
                found[shape.grant_id] = Coverage(
                    grant_id=shape.grant_id,
                    by_grant=call.grant_id,
                    by_loan=call.loan_id,
                    channel="call",
                    task_id=call.task_id,
                )
                break
    return found


def note_granted(
    book: ConsolidationBook, loan_id: str, shape: CandidateShape, names: list[NamedLoan]
) -> ConsolidationBook:
    """A granted message or call task that names `names` (the asking loan among them)."""
    ids = [n.loan_id for n in names]
    if loan_id not in ids:
        ids.append(loan_id)
    if shape.kind == "message":
        key = message_key(shape.channel, shape.day, shape.template, shape.stage)
        if key in book.messages:
            return book  # a pre-due or a later message of the day: the first one names them
        sent = SentMessage(grant_id=shape.grant_id, loan_id=loan_id, at=shape.at, names=ids)
        return book.model_copy(update={"messages": {**book.messages, key: sent}})
    if shape.task_id is None or shape.until is None:
        return book
    call = OpenCall(
        task_id=shape.task_id,
        grant_id=shape.grant_id,
        loan_id=loan_id,
        not_before=shape.at,
        not_after=shape.until,
        names=ids,
    )
    return book.model_copy(update={"calls": {**book.calls, shape.task_id: call}})


def allocate_promise(
    amount: Decimal, loans: list[NamedLoan], rule: AllocationRule, currency: str
) -> dict[str, Decimal]:
    """Split a promise over the loans a call task names, to the currency's smallest unit.

    `oldest_due_first`: the loans in order of their oldest unpaid due date (then loan id) each
    take up to what is overdue on them; what is left then goes, in the same order, up to each
    loan's balance. `pro_rata`: in proportion to what is overdue on each, rounded down to the
    unit, the units left over one each to the largest remainders (ties: the same order). Any
    amount above what the loans owe is left unallocated (the caller refuses such a promise).
    Every loan named is in the answer, with 0 when it gets nothing."""
    order = sorted(loans, key=lambda n: (n.oldest_due or date.max, n.loan_id))
    shares = {n.loan_id: Decimal(0) for n in order}
    if rule == "pro_rata":
        total = sum((n.amount_overdue for n in order), Decimal(0))
        if total > 0:
            unit = Decimal(1).scaleb(-_places(currency))
            raw = {n.loan_id: amount * n.amount_overdue / total for n in order}
            for n in order:
                shares[n.loan_id] = (raw[n.loan_id] / unit).to_integral_value(ROUND_DOWN) * unit
            left = amount - sum(shares.values(), Decimal(0))
            by_remainder = sorted(
                order,
                key=lambda n: -(raw[n.loan_id] - shares[n.loan_id]),
            )
            for n in by_remainder:
                if left < unit:
                    break
                shares[n.loan_id] += unit
                left -= unit
            return {k: quantize(v, currency) for k, v in shares.items()}
    left = amount
    for n in order:
        take = min(left, max(n.amount_overdue, Decimal(0)))
        shares[n.loan_id] += take
        left -= take
    for n in order:
        room = (n.balance if n.balance is not None else n.amount_overdue) - shares[n.loan_id]
        take = min(left, max(room, Decimal(0)))
        shares[n.loan_id] += take
        left -= take
    return {k: quantize(v, currency) for k, v in shares.items()}


def _places(currency: str) -> int:
    """Decimal places of the currency's smallest unit."""
    exponent = quantize(Decimal(1), currency).as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0
