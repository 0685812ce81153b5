"""The borrower authority's side of consolidation (docs/borrowers.md "Consolidation"): plain
functions the BorrowerWorkflow's `grant_contacts` handler calls around the grant decision, so
the workflow class only keeps the book. No temporalio import: unit-tested with made-up values.

1. `before_grants`: the loan's money is noted; candidates another loan's message or open call
   task already covers are answered (granted, with their `Coverage`) and do not go on to the
   caps: they are not contacts.
2. `after_grants`: each granted reminder or call task of an overdue loan is noted as the day's
   message (or the borrower's open call) and, when the borrower has several overdue loans,
   answered with the loans it names; a granted pre-due reminder is noted as the day's pre-due
   message on its channel and names the loans falling due (`names_due_for`).
3. `outcome_signals`: an outcome of a call task that named several loans goes on to each of
   the other loans (once per outcome key).
"""

from __future__ import annotations

from domain.contact.borrower import BorrowerBook, GrantAnswer
from domain.contact.consolidation import (
    MAX_REMEMBERED,
    ConsolidationBook,
    Coverage,
    NamedLoan,
    cover,
    names_due_for,
    names_for,
    note_granted,
)
from workflows.contracts.borrowers import BorrowerOutcomeSignal, GrantRequest, LoanRegistration

__all__ = ["after_grants", "before_grants", "outcome_signals", "registered"]


def registered(book: ConsolidationBook, registration: LoanRegistration) -> ConsolidationBook:
    """A loan joining its borrower: its schedule is noted until the loan reports itself (a
    report already received is newer and stays)."""
    if registration.dues is None or registration.loan_id in book.dues:
        return book
    return book.model_copy(update={"dues": {**book.dues, registration.loan_id: registration.dues}})


def before_grants(
    book: ConsolidationBook, borrower: BorrowerBook, request: GrantRequest
) -> tuple[ConsolidationBook, dict[str, Coverage], GrantRequest]:
    """Note the loan's money; answer the covered candidates; the request left for the caps."""
    if request.dues is not None:
        book = book.model_copy(update={"dues": {**book.dues, request.loan_id: request.dues}})
    if not request.shapes:
        return book, {}, request
    pending = {
        r.pending_task
        for loan, records in borrower.loans.items()
        if loan != request.loan_id
        for r in records
        if r.pending_task is not None
    }
    covered = cover(book, request.loan_id, request.shapes, pending)
    if covered:
        book = book.model_copy(update={"covered": _remember(book.covered, covered)})
    rest = [c for c in request.candidates if c.grant_id not in covered]
    return book, covered, request.model_copy(update={"candidates": rest})


def after_grants(
    book: ConsolidationBook,
    request: GrantRequest,
    covered: dict[str, Coverage],
    decided: list[GrantAnswer],
) -> tuple[ConsolidationBook, list[GrantAnswer], dict[str, list[NamedLoan]]]:
    """Every answer in the order of the loan's candidates (a covered one granted), the book
    with the granted messages and call tasks noted, and the loans each names when several."""
    by_id = {a.grant_id: a for a in decided}
    answers = [
        by_id[c.grant_id]
        if c.grant_id in by_id
        else GrantAnswer(grant_id=c.grant_id, granted=True, reason="covered")
        for c in request.candidates
        if c.grant_id in by_id or c.grant_id in covered
    ]
    names: dict[str, list[NamedLoan]] = {}
    for shape in request.shapes:
        answer = by_id.get(shape.grant_id)
        if answer is None or not answer.granted:
            continue
        if shape.stage == "pre_due":
            named = names_due_for(book, shape.day, shape.due_until or shape.day)
        else:
            named = names_for(book, shape.day)
        book = note_granted(book, request.loan_id, shape, named)
        if len(named) > 1 and any(n.loan_id == request.loan_id for n in named):
            names[shape.grant_id] = named
    return book, answers, names


def outcome_signals(
    book: ConsolidationBook, borrower_id: str, request: GrantRequest
) -> tuple[ConsolidationBook, list[tuple[str, BorrowerOutcomeSignal]]]:
    """(loan id, signal) for each other loan a shared outcome names; each outcome once."""
    out: list[tuple[str, BorrowerOutcomeSignal]] = []
    seen = list(book.outcomes_seen)
    for shared in request.shared_outcomes:
        if shared.key in seen:
            continue
        seen.append(shared.key)
        message = BorrowerOutcomeSignal(borrower_id=borrower_id, outcome=shared)
        out.extend((loan, message) for loan in shared.loans if loan != shared.from_loan)
    return book.model_copy(update={"outcomes_seen": seen[-MAX_REMEMBERED:]}), out


def _remember(known: dict[str, Coverage], new: dict[str, Coverage]) -> dict[str, Coverage]:
    merged = {**known, **new}
    return dict(list(merged.items())[-MAX_REMEMBERED:])
