"""A payment_id names one payment (issue 21 item 5): the episode's check, before history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.account import PaymentIn
from workflows.account import ladder
from workflows.account.episode import ACCOUNT_CLOSED, INVALID_PAYMENT, PAYMENT_CONFLICT, Refused
from workflows.contracts import PaymentConflictDetail

from .conftest import DUE, EpisodeFactory, at, delinquent


def _payment(amount: str, payment_id: str = "PAY-1") -> PaymentIn:
    return PaymentIn.model_construct(
        payment_id=payment_id, amount=Decimal(amount), paid_at=datetime(2026, 3, 12, tzinfo=UTC)
    )


def test_the_same_payment_id_with_another_amount_is_refused_naming_the_amount_on_record(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2))
    assert ep.take_payment(now, _payment("100.00"))
    with pytest.raises(Refused) as refused:
        ep.check_payment(_payment("50.00"))
    assert refused.value.type == PAYMENT_CONFLICT
    assert refused.value.details == (
        {"payment_id": "PAY-1", "amount_on_record": "100.00", "amount": "50.00"},
    )
    assert "100.00" in refused.value.message


def test_a_signalled_repeat_with_another_amount_books_nothing_and_records_the_conflict(
    new_episode: EpisodeFactory,
) -> None:
    """A signal cannot be refused (the API's fallback while no worker answers): the conflict is
    an action the timeline shows, naming both amounts, never a silent drop."""
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2))
    assert ep.take_payment(now, _payment("100.00"))
    ep.out.actions.clear()
    assert not ep.take_payment(now, _payment("50.00"))
    assert [p.amount for p in ep.s.book.payments] == [Decimal("100.00")]
    [action] = ep.out.actions
    assert action.kind == "payment_conflict"
    assert isinstance(action.detail, PaymentConflictDetail)
    assert (action.detail.payment_id, action.detail.amount_on_record, action.detail.amount) == (
        "PAY-1",
        "100.00",
        "50.00",
    )
    assert ep.wake
    ep.out.actions.clear()
    assert not ep.take_payment(now, _payment("100"))  # the same payment: a quiet repeat
    assert ep.out.actions == []


def test_the_same_payment_repeated_passes_the_check_and_books_nothing_twice(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2))
    assert ep.take_payment(now, _payment("100.00"))
    ep.check_payment(_payment("100"))  # the same amount, written another way
    assert not ep.take_payment(now, _payment("100"))
    assert len(ep.s.book.payments) == 1


def test_an_amount_finer_than_the_currency_is_refused_before_history(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    with pytest.raises(Refused) as refused:
        ep.check_payment(_payment("10.005"))
    assert refused.value.type == INVALID_PAYMENT


def test_a_closed_episode_refuses_a_payment_instead_of_dropping_it(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2))
    ep.take_payment(now, _payment(str(ep.s.book.balance), "PAY-ALL"))
    ladder.advance(ep, now)
    assert ep.closed, ep.s.state
    with pytest.raises(Refused) as refused:
        ep.check_payment(_payment("5.00", "PAY-LATE"))
    assert refused.value.type == ACCOUNT_CLOSED
