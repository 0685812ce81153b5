"""PLAYBOOK.md section 2: "find out why the payment was missed (record a reason code)" (issue 17
item 6), decided by workflows/account/reasons.py and outcomes with made-up instants."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from domain.cases import count_by_reason
from domain.outcomes import OutcomeIn
from workflows.account import outcomes
from workflows.account.episode import INVALID_OUTCOME, Episode, Refused
from workflows.contracts import TaskOutcome

from .conftest import DUE, EpisodeFactory, at, calling, kinds, pinned_to_1_0

NOW = at(DUE + timedelta(days=2), 10, 30)


def _outcome(ep: Episode, outcome: Mapping[str, object]) -> TaskOutcome:
    task = ep.s.open_tasks[0]
    return TaskOutcome(
        task_id=task.task_id,
        task_kind=task.kind,
        action_seq=task.action_seq,
        recorded_by="alice",
        recorded_at=NOW,
        outcome=OutcomeIn.model_validate(outcome),
    )


def test_a_reason_the_strategy_does_not_list_is_refused_naming_the_codes_it_allows(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    request = _outcome(ep, {"outcome": "paid_claimed", "missed_payment_reason": "aliens"})
    with pytest.raises(Refused) as refused:
        outcomes.check_task_outcome(ep, NOW, request)
    assert refused.value.type == INVALID_OUTCOME
    assert "aliens" in refused.value.message
    codes = [r.code for r in ep.strategy.missed_payment_reasons or []]
    assert codes and all(code in refused.value.message for code in codes)


def test_the_reason_the_borrower_gives_is_recorded_as_its_own_action(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    request = _outcome(ep, {"outcome": "paid_claimed", "missed_payment_reason": "short_of_cash"})
    outcomes.check_task_outcome(ep, NOW, request)
    outcomes.take_outcome(ep, NOW, request)
    assert kinds(ep)[0] == "missed_payment_reason"
    detail = ep.out.actions[0].detail
    assert detail.code == "short_of_cash" and detail.outcome == "paid_claimed"  # type: ignore[union-attr]
    assert detail.dpd == 2 and detail.recorded_by == "alice"  # type: ignore[union-attr]


def test_an_outcome_without_a_reason_records_none() -> None:
    ep = calling(pinned_to_1_0())
    request = _outcome(ep, {"outcome": "paid_claimed"})
    outcomes.check_task_outcome(ep, NOW, request)
    outcomes.take_outcome(ep, NOW, request)
    assert "missed_payment_reason" not in kinds(ep)


def test_a_strategy_version_without_reason_codes_takes_none() -> None:
    ep = calling(pinned_to_1_0())
    request = _outcome(ep, {"outcome": "paid_claimed", "missed_payment_reason": "forgot"})
    with pytest.raises(Refused) as refused:
        outcomes.check_task_outcome(ep, NOW, request)
    assert "records no reason codes" in refused.value.message


def test_the_scoreboard_counts_each_reason_most_given_first() -> None:
    given = ["forgot", "short_of_cash", "forgot", "illness", "short_of_cash", "forgot"]
    assert list(count_by_reason(given).items()) == [
        ("forgot", 3),
        ("short_of_cash", 2),
        ("illness", 1),
    ]
