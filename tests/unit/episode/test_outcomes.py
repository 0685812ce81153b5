"""The playbook's branches (PLAYBOOK.md sections 6-12): what a collector's outcome changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from domain.outcomes import HardshipIn, OutcomeIn
from workflows.account import outcomes
from workflows.account.episode import Episode, Refused
from workflows.contracts import TaskOutcome, UnscheduledContactDetail

from .conftest import DUE, HOME, MOBILE, EpisodeFactory, at, calling, kinds


def _outcome(ep: Episode, outcome: Mapping[str, object], by: str = "alice") -> TaskOutcome:
    task = ep.s.open_tasks[0]
    return TaskOutcome(
        task_id=task.task_id,
        task_kind=task.kind,
        recorded_by=by,
        recorded_at=at(DUE + timedelta(days=2), 11),
        outcome=OutcomeIn.model_validate(outcome),
    )


def test_after_no_answer_the_next_call_goes_to_another_slot_and_another_number(
    new_episode: EpisodeFactory,
) -> None:
    """Section 6 and 11: try other times of day; rotate numbers so none is a blind spot."""
    ep = calling(new_episode())
    first = ep.s.open_tasks[0]
    now = at(DUE + timedelta(days=2), 11)
    answer = outcomes.take_outcome(ep, now, _outcome(ep, {"outcome": "no_answer"}))
    assert answer.effect == "1 unanswered in a row"
    follow_up = ep.s.open_tasks[-1]
    assert follow_up.slot != first.slot
    assert (first.target, follow_up.target) == (MOBILE, HOME)


def test_every_number_dead_makes_the_account_a_skip(new_episode: EpisodeFactory) -> None:
    """Section 12: with no live number left, the account is skip-traced."""
    ep = calling(new_episode())
    assert ep.s.ledger is not None
    ep.s.ledger = ep.s.ledger.with_dead_number(HOME)
    now = at(DUE + timedelta(days=2), 11)
    answer = outcomes.take_outcome(ep, now, _outcome(ep, {"outcome": "wrong_number"}))
    assert answer.effect == "no live number left: skip tracing"
    assert kinds(ep) == ["skip_trace"]
    assert ep.s.skip_since == now


def test_a_short_term_hardship_without_a_plan_grants_a_grace_period_and_cancels_the_calls(
    new_episode: EpisodeFactory,
) -> None:
    """Section 9: short-term → a grace period."""
    ep = calling(new_episode())
    now = at(DUE + timedelta(days=2), 11)
    hardship = HardshipIn(cause="salary late", term="short", surmountable=True)
    effect = outcomes.after_hardship(ep, now, hardship, "alice", 2)
    assert effect.startswith("short-term hardship: grace until")
    assert [h.kind for h in ep.s.holds] == ["grace"]
    assert ep.s.open_tasks == []
    assert [u.status for u in ep.out.task_updates] == ["cancelled"]


def test_a_long_term_hardship_of_an_eligible_borrower_is_offered_a_restructure(
    new_episode: EpisodeFactory,
) -> None:
    """Section 2 and 9: long-term → debt restructuring when eligible (caught in a cycle of
    recurring delinquency)."""
    ep = calling(new_episode(history={"prior_delinquencies": 2, "ever_paid": True}))
    hardship = HardshipIn(cause="job lost", term="long", surmountable=True)
    effect = outcomes.after_hardship(ep, at(DUE + timedelta(days=2), 11), hardship, "alice", 2)
    assert effect.startswith("long-term hardship: restructuring offered")
    assert ep.out.children == ["restructure"]


def test_a_grievance_against_the_collector_hands_the_account_to_someone_else(
    new_episode: EpisodeFactory,
) -> None:
    """Section 10: hand the account to another collector; the one complained about never
    gets it again."""
    ep = calling(new_episode())
    ep.s.holder = "alice"
    outcome = {"outcome": "refused", "reason": "collector_grievance"}
    answer = outcomes.take_outcome(ep, at(DUE + timedelta(days=2), 11), _outcome(ep, outcome))
    assert answer.effect == "reassigned away from alice"
    assert ep.s.holder is None and ep.s.never_assign == ["alice"]


def test_an_outcome_counted_once_is_not_counted_again(new_episode: EpisodeFactory) -> None:
    ep = calling(new_episode())
    request = _outcome(ep, {"outcome": "no_answer"})
    now = at(DUE + timedelta(days=2), 11)
    outcomes.take_outcome(ep, now, request)
    ep.wake = False
    again = outcomes.take_outcome(ep, now, request)
    assert again.effect == "already recorded"
    assert ep.s.unanswered_in_row == 1 and not ep.wake


def test_a_contact_person_or_someone_else_answering_does_not_count_as_reaching_the_borrower(
    new_episode: EpisodeFactory,
) -> None:
    """Glossary, RPC: a conversation with the borrower, not a relative. A contact person's
    answer, or a `third_party` answer on the borrower's number, leaves the borrower unreached
    (the DPD-20 field visit for borrowers not reached still goes out); the borrower's own
    answer reaches them."""
    now = at(DUE + timedelta(days=2), 11)
    ep = calling(new_episode())
    outcomes.take_outcome(ep, now, _outcome(ep, {"outcome": "third_party"}))
    assert ep.s.reached is False
    ep = calling(new_episode())
    ep.s.open_tasks[0] = ep.s.open_tasks[0].model_copy(update={"party": "third_party"})
    outcomes.take_outcome(ep, now, _outcome(ep, {"outcome": "paid_claimed"}))
    assert ep.s.reached is False
    ep = calling(new_episode())
    outcomes.take_outcome(ep, now, _outcome(ep, {"outcome": "paid_claimed"}))
    assert ep.s.reached is True


def test_an_outcome_before_the_window_opens_is_refused_naming_the_window(
    new_episode: EpisodeFactory,
) -> None:
    """Issue 17 item 5b: the workflow refuses it too (the API checks first), so an outcome that
    bypassed the API cannot book an attempt ahead of its window."""
    ep = calling(new_episode())
    task = ep.s.open_tasks[0]
    assert task.not_before == at(DUE + timedelta(days=2), 10)
    early = at(DUE + timedelta(days=2), 9, 30)
    with pytest.raises(Refused) as refused:
        outcomes.check_task_outcome(ep, early, _outcome(ep, {"outcome": "no_answer"}))
    assert refused.value.type == "TaskNotOpen"
    assert str(task.not_before) in refused.value.message
    unscheduled = _outcome(ep, {"outcome": "no_answer", "unscheduled": True})
    outcomes.check_task_outcome(ep, early, unscheduled)


def test_an_unscheduled_call_outside_the_contact_hours_is_recorded_with_the_rule_it_broke(
    new_episode: EpisodeFactory,
) -> None:
    """The gate audits an unscheduled contact as if proposed when reported: a call at 06:00
    breaks the calling hours; it is on record all the same, and a supervisor must review it."""
    ep = calling(new_episode())
    task = ep.s.open_tasks[0]
    dawn = at(DUE + timedelta(days=2), 6)
    request = _outcome(ep, {"outcome": "no_answer", "unscheduled": True}, by="bob")
    outcomes.take_outcome(ep, dawn, request)
    audit = next(a for a in ep.out.actions if a.kind == "unscheduled_contact")
    assert isinstance(audit.detail, UnscheduledContactDetail)
    assert audit.detail.allowed is False and audit.detail.rule
    assert audit.detail.reported_task == task.task_id and audit.detail.recorded_by == "bob"
    [review] = [t for t in ep.s.open_tasks if t.kind == "approval"]
    assert review.task_id == audit.detail.review_task
    assert ep.s.ledger is not None
    assert any(r.at == dawn and r.channel == "call" for r in ep.s.ledger.records)
