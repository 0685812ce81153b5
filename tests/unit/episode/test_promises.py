"""Promises to pay (PLAYBOOK.md section 7) and payment plans (section 9)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.account import PromiseIn
from workflows.account import ladder, promises
from workflows.account.episode import INVALID_PROMISE, NOT_ALLOWED, Refused

from .conftest import DUE, EpisodeFactory, at, delinquent, kinds


def _promise(days: int, amount: str = "1200.00") -> PromiseIn:
    return PromiseIn(amount=Decimal(amount), promised_date=DUE + timedelta(days=days))


def test_a_promise_is_refused_before_the_account_is_delinquent(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    with pytest.raises(Refused) as refused:
        promises.check_promise(ep, at(DUE, 10), _promise(3), supervisor_override=False)
    assert refused.value.type == NOT_ALLOWED


def test_a_promise_dated_in_the_past_is_refused_as_invalid(new_episode: EpisodeFactory) -> None:
    ep = delinquent(new_episode())
    with pytest.raises(Refused) as refused:
        promises.check_promise(ep, at(DUE + timedelta(days=2)), _promise(1), False)
    assert refused.value.type == INVALID_PROMISE
    assert refused.value.details and isinstance(refused.value.details[0], list)


def test_an_open_promise_pauses_the_ladder(new_episode: EpisodeFactory) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2), 9)
    promises.make_promise(ep, now, _promise(5))
    assert ep.paused(now)
    ladder.advance(ep, at(DUE + timedelta(days=2), 12))
    assert "call_task" not in kinds(ep)


def test_a_promise_not_paid_by_its_deadline_is_broken_and_leaves_a_negative_credit_record(
    new_episode: EpisodeFactory,
) -> None:
    """Section 7: each broken promise creates a negative credit record."""
    ep = delinquent(new_episode())
    promises.make_promise(ep, at(DUE + timedelta(days=2), 9), _promise(4))
    # judged at the end of the promised date plus the grace day
    ladder.advance(ep, at(DUE + timedelta(days=6), 0, 5))
    assert ep.s.promise is None
    assert ep.out.promises[-1].status == "broken"
    assert "negative_credit_record" in kinds(ep)
    assert ep.s.broken_dates == [DUE + timedelta(days=6)]


def test_a_promise_paid_in_time_is_kept_and_the_next_promise_of_the_plan_opens(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    made = at(DUE + timedelta(days=2), 9)
    promises.make_promise(ep, made, _promise(3, "600.00"))
    ep.s.promise_plan = [_promise(7, "700.00")]
    ep.s.book.apply_payment("p1", Decimal("600.00"), DUE + timedelta(days=3))
    ladder.advance(ep, at(DUE + timedelta(days=3), 15))
    assert ep.out.promises[-2].status == "kept"
    assert ep.s.promise is not None and ep.s.promise.amount == Decimal("700.00")
    assert ep.s.promise_plan == []


def test_a_promise_broken_by_our_own_debit_file_error_does_not_count_against_the_borrower(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    promises.make_promise(ep, at(DUE + timedelta(days=2), 9), _promise(4))
    ladder.advance(ep, at(DUE + timedelta(days=6), 0, 5))
    promises.explain_broken_promise(ep, "debit_file_error")
    assert ep.s.broken_dates == []
    assert ep.s.broken_reasons == {"1": "debit_file_error"}
