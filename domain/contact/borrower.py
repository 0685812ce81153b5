"""One contact authority per borrower (CONTRACT.md "Borrowers"; docs/borrowers.md).

A borrower with several loans is one person: every cap and window counts the contacts made
about any of their loans (agencies' included), and a borrower hold (bankruptcy, deceased,
attorney, cease-communication) reported on one loan holds them all. `BorrowerBook` is what the
borrower's authority keeps: each loan's contact records as that loan last reported them, the
borrower holds, and the answers it gave (so a retried request is answered, not counted, twice).

`decide_grants` is the borrower-level decision. It adds no rule of its own: it puts each
proposed contact through the same `earliest_allowed` the account's gate uses, over a ledger
that merges the asking loan's own facts (consents, numbers) with the records of every other
loan of the borrower, and the borrower's holds. Pure: no clock, no Temporal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from domain.calendar import local_date
from domain.contact.context import BorrowerContext
from domain.contact.decide import ProposedContact, decide, earliest_allowed
from domain.contact.holds import Hold, active_holds
from domain.contact.ledger import ContactLedger, ContactRecord
from domain.contact.person_channels import PersonChannels, with_person
from domain.contact.profile import ContactProfile
from domain.contact.public_holidays import HolidayCalendars

__all__ = [
    "BORROWER_HOLDS",
    "MAX_REMEMBERED_ANSWERS",
    "BorrowerBook",
    "BorrowerFacts",
    "GrantAnswer",
    "GrantCandidate",
    "HoldEvent",
    "HolderEvent",
    "Withdrawal",
    "apply_hold_event",
    "apply_holder_event",
    "barred_pending_calls",
    "caps_left",
    "conflicts",
    "contacts_between",
    "decide_grants",
    "merged_ledger",
]

BORROWER_HOLDS = frozenset({"bankruptcy", "deceased", "attorney", "cease_communication"})
"""Holds about the person, not the loan: reported on one loan, they hold every loan."""

MAX_REMEMBERED_ANSWERS = 500
"""Answers kept for retried requests; a retry comes within minutes, so the last few hundred
grants are plenty, and the bound keeps the workflow's state small."""


class BorrowerFacts(BaseModel):
    """What must agree between the loans of one borrower: the windows are read in the
    borrower's time zone, the profile follows the jurisdiction, and the name is the person."""

    name: str
    timezone: str
    jurisdiction: str | None = None


class GrantCandidate(BaseModel):
    """A contact a loan wants to make: the ledger record it will add once allowed. `grant_id`
    is the loan's own key for it (episode and action seq), so a retry is recognised."""

    grant_id: str
    record: ContactRecord


class GrantAnswer(BaseModel):
    """Allowed, or refused naming the rule and the instant the contact may go (None: only a
    change of facts, such as a hold's release, could allow it)."""

    grant_id: str
    granted: bool
    rule: str | None = None
    reason: str = ""
    earliest: AwareDatetime | None = None


class HoldEvent(BaseModel):
    """A borrower hold placed or released on one loan; `key` (loan and action seq) makes a
    repeated report count once."""

    key: str
    loan_id: str
    kind: str
    placed: bool
    at: AwareDatetime
    detail: dict[str, str] = Field(default_factory=dict)


class Withdrawal(BaseModel):
    """An open call task of a loan that the borrower's contacts now bar (a conversation on
    another loan starts Regulation F's pause, the day's connected calls are used up)."""

    loan_id: str
    task_id: str
    rule: str


class HolderEvent(BaseModel):
    """A loan reassigned or escalated to `to` (PLAYBOOK.md section 5): the borrower has one
    holder, so the other loans follow. `key` (loan and action seq) makes a repeat count once."""

    key: str
    loan_id: str
    to: str
    kind: str
    reason: str
    at: AwareDatetime


class BorrowerBook(BaseModel):
    """The borrower's contact ledger by loan, their holds, their holder, and the answers
    already given."""

    facts: BorrowerFacts | None = None
    holder: str | None = None
    loans: dict[str, list[ContactRecord]] = Field(default_factory=dict)
    holds: list[Hold] = Field(default_factory=list)
    answers: dict[str, GrantAnswer] = Field(default_factory=dict)
    hold_events_seen: list[str] = Field(default_factory=list)
    channels: PersonChannels = Field(default_factory=PersonChannels)
    """The person's dead, STOP'd and no-SMS numbers and consents, from every loan
    (domain.contact.person_channels): kept whole across continue-as-new, never pruned."""

    def pruned(self, before: datetime) -> BorrowerBook:
        """Only the rolling window the rules look back over (and holds still open)."""
        loans = {loan: [r for r in rs if r.at >= before] for loan, rs in self.loans.items()}
        holds = [h for h in self.holds if h.until is None or h.until >= before]
        answers = dict(list(self.answers.items())[-MAX_REMEMBERED_ANSWERS:])
        seen = self.hold_events_seen[-MAX_REMEMBERED_ANSWERS:]
        return self.model_copy(
            update={"loans": loans, "holds": holds, "answers": answers, "hold_events_seen": seen}
        )


def conflicts(known: BorrowerFacts | None, new: BorrowerFacts) -> list[str]:
    """What `new` says differently from the facts the borrower's loans already gave."""
    if known is None:
        return []
    found = []
    for field in ("timezone", "jurisdiction", "name"):
        had, has = getattr(known, field), getattr(new, field)
        if had is not None and has is not None and had != has:
            found.append(f"{field} {has!r} differs from {had!r} on the borrower's other loans")
    return found


def merged_ledger(book: BorrowerBook, loan_id: str, own: ContactLedger) -> ContactLedger:
    """The asking loan's ledger (its consents, numbers and records) with every other loan's
    records of the borrower (what the caps must count) and the person's numbers and consents
    (a number dead or STOP'd on another loan is dead or STOP'd for this one)."""
    ledger = with_person(own, book.channels)
    for other, records in sorted(book.loans.items()):
        if other == loan_id:
            continue
        for record in records:
            ledger = ledger.with_record(record)
    return ledger


def decide_grants(
    book: BorrowerBook,
    loan_id: str,
    own: ContactLedger,
    candidates: list[GrantCandidate],
    profile: ContactProfile,
    context: BorrowerContext,
    calendars: HolidayCalendars,
) -> tuple[BorrowerBook, list[GrantAnswer]]:
    """Grant or refuse each candidate in turn, each one counting those granted before it.

    `own` is the loan's ledger without the candidates: it replaces what the book held for the
    loan, so outcomes (a call that connected, an agency's contact, a task that expired) count as
    they really happened. A candidate answered before is answered the same again and counted
    once. A contact is granted when the rules allow it at its own instant (`record.at`)."""
    records = list(own.records)
    answers: list[GrantAnswer] = []
    remembered = dict(book.answers)
    for candidate in candidates:
        known = remembered.get(candidate.grant_id)
        if known is not None:
            answers.append(known)
            if known.granted:
                records.append(candidate.record)
            continue
        ledger = merged_ledger(book, loan_id, own.model_copy(update={"records": records}))
        record = candidate.record
        proposal = {
            "channel": record.channel,
            "at": record.at,
            "target": record.target,
            "party": record.party,
            "purpose": record.purpose,
        }
        decision = earliest_allowed(
            ProposedContact.model_validate(proposal),
            ledger,
            book.holds,
            profile,
            context,
            calendars=calendars,
        )
        allowed = decision.allowed and (decision.earliest is None or decision.earliest <= record.at)
        if allowed:
            answer = GrantAnswer(grant_id=candidate.grant_id, granted=True)
            records.append(record)
        else:
            rule = decision.requirements.get("blocked_by") or decision.rule or "unknown"
            answer = GrantAnswer(
                grant_id=candidate.grant_id,
                granted=False,
                rule=f"borrower.{rule}",
                reason=f"the borrower's other loans: {decision.reason}",
                earliest=decision.earliest if decision.allowed else None,
            )
        remembered[candidate.grant_id] = answer
        answers.append(answer)
    loans = {**book.loans, loan_id: sorted(records, key=lambda r: r.at)}
    return book.model_copy(update={"loans": loans, "answers": remembered}), answers


def apply_hold_event(book: BorrowerBook, event: HoldEvent) -> tuple[BorrowerBook, bool]:
    """A borrower hold placed or released on one loan; True when the borrower's holds changed
    (then every other loan must hear of it). A repeated event, a placement of a kind already
    held or a release of one not held changes nothing."""
    if event.kind not in BORROWER_HOLDS or event.key in book.hold_events_seen:
        return book, False
    seen = [*book.hold_events_seen, event.key]
    held = any(h.kind == event.kind for h in active_holds(book.holds, event.at))
    if event.placed == held:
        return book.model_copy(update={"hold_events_seen": seen}), False
    if event.placed:
        hold = Hold.model_validate({"kind": event.kind, "since": event.at, "detail": event.detail})
        holds = [*book.holds, hold]
    else:
        holds = [
            h.ended(event.at) if h.kind == event.kind and h.active_at(event.at) else h
            for h in book.holds
        ]
    return book.model_copy(update={"holds": holds, "hold_events_seen": seen}), True


def apply_holder_event(book: BorrowerBook, event: HolderEvent) -> tuple[BorrowerBook, bool]:
    """A loan's new holder becomes the borrower's; True when it changed (the other loans must
    follow). A repeated event, or one naming the holder already, changes nothing."""
    if event.key in book.hold_events_seen:
        return book, False
    seen = [*book.hold_events_seen, event.key]
    changed = book.holder != event.to
    return book.model_copy(update={"holder": event.to, "hold_events_seen": seen}), changed


def contacts_between(book: BorrowerBook, start: datetime, end: datetime) -> int:
    """Contacts made (not pending) with the borrower about any loan in [start, end)."""
    return sum(
        1
        for records in book.loans.values()
        for r in records
        if start <= r.at < end and r.pending_task is None
    )


def caps_left(book: BorrowerBook, profile: ContactProfile, tz: str, day: date) -> dict[str, int]:
    """For each of the profile's caps that counts the whole person (not one number): how many
    more contacts it allows in the period ending on local `day`, across all the loans (an open
    task's pending call counts, as the gate counts it)."""
    left: dict[str, int] = {}
    for cap in profile.caps:
        if cap.per != "account":
            continue
        first = day - timedelta(days=cap.days - 1)
        used = 0
        for records in book.loans.values():
            for r in records:
                result = cap.results[0] if r.pending_task and cap.results else r.result
                if cap.counts(r.channel, r.party, result) and first <= local_date(r.at, tz) <= day:
                    used += 1
        left[cap.rule] = max(cap.max - used, 0)
    return left


def barred_pending_calls(
    book: BorrowerBook,
    now: datetime,
    profile: ContactProfile,
    context: BorrowerContext,
    calendars: HolidayCalendars,
) -> list[Withdrawal]:
    """The open call tasks (pending calls) of any loan that may no longer be worked now (or at
    their window's start, if later) because of the person's contacts across the loans: the
    profile's caps and its pause after a conversation. A task is granted when issued; a later
    fact on another loan can bar it, as a later fact on its own loan does (the account's
    `withdraw_barred_calls`). Windows, holidays and holds are not judged here: the loan's gate
    and the borrower holds see to those."""
    person_rules = {cap.rule for cap in profile.caps}
    if profile.after_conversation is not None:
        person_rules.add(profile.after_conversation.rule)
    everyone = [r for records in book.loans.values() for r in records]
    pending = [
        (loan, r)
        for loan, records in sorted(book.loans.items())
        for r in records
        if r.pending_task is not None
        and r.channel == "call"
        and r.party in ("borrower", "attorney")
    ]
    found = []
    # The latest first, each withdrawn one no longer counted: only as many as must go.
    for loan, record in sorted(pending, key=lambda p: p[1].at, reverse=True):
        others = ContactLedger(records=[r for r in everyone if r is not record])
        proposal = ProposedContact(
            channel="call",
            at=max(now, record.at),
            target=record.target,
            party=record.party,
            purpose=record.purpose,
        )
        decision = decide(proposal, others, book.holds, profile, context, calendars)
        if not decision.allowed and decision.rule in person_rules:
            assert record.pending_task is not None
            found.append(Withdrawal(loan_id=loan, task_id=record.pending_task, rule=decision.rule))
            everyone = [r for r in everyone if r is not record]
    return found
