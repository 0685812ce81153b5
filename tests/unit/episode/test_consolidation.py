"""The account's side of consolidation (`workflows/account/consolidation.py`; docs/borrowers.md
"Consolidation"): what a loan with a borrower id asks, how it takes back a contact another
loan's covers, how it lets a granted one name the loans, and how an outcome on a call task
naming several loans is split and taken. Made-up instants, no server."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from domain.account import PaymentIn
from domain.contact.consolidation import Coverage, NamedLoan, SharedOutcome
from domain.outcomes import OutcomeIn
from workflows.account import consolidation, ladder, outcomes
from workflows.account.episode import INVALID_PROMISE, Episode, Refused
from workflows.contracts import ConsolidatedDetail, SharedOutcomeDetail, TaskOutcome
from workflows.contracts.borrowers import (
    BorrowerOutcomeSignal,
    GrantAnswer,
    GrantRequest,
    GrantResult,
)

from .conftest import DUE, EpisodeFactory, at, calling, delinquent, kinds

BORROWER = {"name": "Zhang San", "locale": "zh-CN", "timezone": "Asia/Shanghai", "id": "B-1"}


def with_borrower(new_episode: EpisodeFactory, loan: str = "L-UNIT") -> Episode:
    ep = new_episode(loan_id=loan)
    ep.s.account.borrower.id = "B-1"
    return ep


def other(loan: str, overdue: str, days_older: int) -> NamedLoan:
    return NamedLoan(
        loan_id=loan,
        currency="CNY",
        amount_overdue=Decimal(overdue),
        oldest_due=DUE - timedelta(days=days_older),
        balance=Decimal(overdue) * 2,
    )


def first_call_asked(new_episode: EpisodeFactory) -> tuple[Episode, datetime, GrantRequest]:
    """A borrower's overdue loan at its first call (DPD 2, 10:00), and the grant request it sends
    its borrower for that moment."""
    ep = delinquent(with_borrower(new_episode))
    now = at(DUE + timedelta(days=2), 10)
    ladder.advance(ep, now)
    request = consolidation.grant_request(ep, now, None, None, set())
    assert request is not None
    return ep, now, request


def test_a_loan_without_a_borrower_id_asks_nothing(new_episode: EpisodeFactory) -> None:
    ep = calling(new_episode())
    assert (
        consolidation.grant_request(ep, at(DUE + timedelta(days=2), 10), None, None, set()) is None
    )


def test_a_call_task_of_an_overdue_loan_is_asked_with_its_window_and_the_loans_money(
    new_episode: EpisodeFactory,
) -> None:
    ep, now, request = first_call_asked(new_episode)
    assert request.dues is not None
    assert request.dues.amount_overdue == ep.s.book.amount_overdue(ep.today(now))
    [shape] = [s for s in request.shapes if s.kind == "call"]
    task = ep.s.open_tasks[0]
    assert (shape.kind, shape.task_id, shape.until) == ("call", task.task_id, task.not_after)


def test_a_covered_call_task_is_taken_back_and_recorded_as_consolidated(
    new_episode: EpisodeFactory,
) -> None:
    ep, now, request = first_call_asked(new_episode)
    grant_id = next(c.grant_id for c in request.candidates if c.record.pending_task)
    coverage = Coverage(
        grant_id=grant_id, by_grant="L-2:e:4", by_loan="L-2", channel="call", task_id="T-2"
    )
    result = GrantResult(
        answers=[GrantAnswer(grant_id=grant_id, granted=True)], covered={grant_id: coverage}
    )
    consolidation.apply_result(ep, now, request, result)
    assert ep.s.open_tasks == []
    assert ep.s.ledger is not None and not [r for r in ep.s.ledger.records if r.pending_task]
    assert "call_task" not in kinds(ep) and kinds(ep)[-1] == "consolidated"
    detail = ep.out.actions[-1].detail
    assert isinstance(detail, ConsolidatedDetail)
    assert (detail.into_task, detail.by_loan, detail.covered_action) == ("T-2", "L-2", "call_task")


def test_a_granted_call_task_names_the_loans_and_so_does_the_open_task(
    new_episode: EpisodeFactory,
) -> None:
    ep, now, request = first_call_asked(new_episode)
    grant_id = next(c.grant_id for c in request.candidates if c.record.pending_task)
    named = [other("L-UNIT", "1200.00", 0), other("L-2", "800.00", 3)]
    result = GrantResult(
        answers=[GrantAnswer(grant_id=grant_id, granted=True)], names={grant_id: named}
    )
    consolidation.apply_result(ep, now, request, result)
    [call] = [a for a in ep.out.actions if a.kind == "call_task"]
    assert call.detail.loans == named  # type: ignore[union-attr]
    assert ep.s.open_tasks[0].loans == named


def _promise_on(ep: Episode, amount: str) -> TaskOutcome:
    task = ep.s.open_tasks[0]
    return TaskOutcome(
        task_id=task.task_id,
        task_kind="call",
        recorded_by="amy",
        recorded_at=at(DUE + timedelta(days=2), 11),
        outcome=OutcomeIn.model_validate(
            {
                "outcome": "promise_to_pay",
                "promise": {
                    "amount": amount,
                    "promised_date": (DUE + timedelta(days=5)).isoformat(),
                },
            }
        ),
    )


def test_a_promise_on_a_task_naming_two_loans_gives_this_loan_its_share_only(
    new_episode: EpisodeFactory,
) -> None:
    """The other loan fell due three days earlier: oldest due first, it takes its 800.00
    overdue and this loan what is left of 1500.55, to the cent."""
    ep = calling(with_borrower(new_episode))
    now = at(DUE + timedelta(days=2), 11)
    task = ep.s.open_tasks[0]
    task.loans = [other("L-UNIT", "1200.00", 0), other("L-2", "800.00", 3)]
    request = _promise_on(ep, "1500.55")
    mine = consolidation.own_share(ep, now, request)
    assert mine.outcome.promise is not None
    assert mine.outcome.promise.amount == Decimal("700.55")
    outcomes.take_outcome(ep, now, mine)
    consolidation.share_outcome(ep, now, task, request)
    assert ep.s.promise is not None and ep.s.promise.amount == Decimal("700.55")
    [shared] = [a.detail for a in ep.out.actions if isinstance(a.detail, SharedOutcomeDetail)]
    assert shared.shares == {"L-2": Decimal("800.00"), "L-UNIT": Decimal("700.55")}
    [passed] = consolidation.grant_request(ep, now, None, None, set()).shared_outcomes  # type: ignore[union-attr]
    assert passed.loans == ["L-UNIT", "L-2"] and passed.shares["L-2"] == Decimal("800.00")


def test_a_promise_above_what_the_named_loans_owe_is_refused(new_episode: EpisodeFactory) -> None:
    ep = calling(with_borrower(new_episode))
    ep.s.open_tasks[0].loans = [other("L-UNIT", "1200.00", 0), other("L-2", "800.00", 3)]
    with pytest.raises(Refused) as refused:
        consolidation.own_share(ep, at(DUE + timedelta(days=2), 11), _promise_on(ep, "99999.00"))
    assert refused.value.type == INVALID_PROMISE


def test_a_promise_whose_split_gives_this_loan_nothing_is_recorded_without_a_promise_here(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(with_borrower(new_episode))
    now = at(DUE + timedelta(days=2), 11)
    ep.s.open_tasks[0].loans = [other("L-UNIT", "1200.00", 0), other("L-2", "800.00", 3)]
    mine = consolidation.own_share(ep, now, _promise_on(ep, "500.00"))
    assert mine.outcome.promise is None
    outcomes.check_task_outcome(ep, now, mine)
    outcomes.take_outcome(ep, now, mine)
    assert ep.s.promise is None


def _shared(outcome: str, **fields: object) -> BorrowerOutcomeSignal:
    return BorrowerOutcomeSignal(
        borrower_id="B-1",
        outcome=SharedOutcome.model_validate(
            {
                "key": "L-2:e:9",
                "task_id": "T-2",
                "from_loan": "L-2",
                "outcome": outcome,
                "at": at(DUE + timedelta(days=2), 11),
                "loans": ["L-2", "L-UNIT"],
                **fields,
            }
        ),
    )


def test_a_no_answer_on_another_loans_task_is_recorded_here_but_not_counted_again(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(with_borrower(new_episode))
    assert ep.s.ledger is not None
    before = list(ep.s.ledger.records)
    assert consolidation.apply_shared_outcome(
        ep, at(DUE + timedelta(days=2), 11), _shared("no_answer")
    )
    assert kinds(ep) == ["shared_outcome"]
    assert ep.s.ledger.records == before, "the call is counted once, on the task's loan"


def test_a_share_of_a_promise_opens_this_loans_promise(new_episode: EpisodeFactory) -> None:
    ep = delinquent(with_borrower(new_episode))
    promised = DUE + timedelta(days=5)
    message = _shared(
        "promise_to_pay", shares={"L-2": "800.00", "L-UNIT": "700.55"}, promised_date=promised
    )
    assert consolidation.apply_shared_outcome(ep, at(DUE + timedelta(days=2), 11), message)
    assert ep.s.promise is not None
    assert (ep.s.promise.amount, ep.s.promise.promised_date) == (Decimal("700.55"), promised)
    detail = ep.out.actions[-1].detail
    assert isinstance(detail, SharedOutcomeDetail) and detail.promise_id == ep.s.promise.promise_id
    assert ep.s.reached, "a promise is a conversation with the borrower"


def test_a_loan_whose_episode_has_ended_reports_nothing_owed(new_episode: EpisodeFactory) -> None:
    """A cured loan's later instalment must not make it named as overdue on a later day: a new
    episode of the loan reports for itself."""
    ep = delinquent(with_borrower(new_episode))
    ep.take_payment(
        at(DUE + timedelta(days=1), 10),
        PaymentIn.model_validate(
            {"payment_id": "p-1", "amount": "1300.00", "paid_at": at(DUE + timedelta(days=1), 10)}
        ),
    )
    ladder.advance(ep, at(DUE + timedelta(days=1), 11))
    assert ep.closed
    dues = consolidation.dues_of(ep, at(DUE + timedelta(days=1), 11))
    assert dues.unpaid == [] and dues.amount_overdue == 0
