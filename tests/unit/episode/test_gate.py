"""The compliance gate (DESIGN.md: a gate, not a report): every contact passes the contact
rules; a refused one is recorded and moved to the earliest allowed instant."""

from __future__ import annotations

from datetime import timedelta

from workflows.account import deliveries, gate, ladder
from workflows.contracts import OpenTask

from .conftest import DUE, HOME, MOBILE, EpisodeFactory, at, delinquent, kinds


def test_an_sms_with_no_live_number_is_blocked_naming_the_rule(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    assert ep.s.ledger is not None
    ep.s.ledger = ep.s.ledger.with_dead_number(MOBILE).with_dead_number(HOME)
    gate.fire_step(ep, at(DUE + timedelta(days=1), 10), ep.branch_steps["branch.no_answer.sms"], 1)
    assert kinds(ep) == ["contact_blocked"]
    assert ep.out.actions[0].detail.stored()["rule"] == "number.none_reachable"
    assert ep.s.deferred == []


def test_a_letter_refused_for_now_waits_for_the_earliest_allowed_instant(
    new_episode: EpisodeFactory,
) -> None:
    """A complaint hold stops collection letters until it ends: the letter is recorded as
    blocked and deferred to the hold's end, then sent."""
    from workflows.account import holds

    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=1), 10)
    holds.add_hold(ep, now, "complaint", {})
    ep.out.actions.clear()
    gate.fire_step(ep, now, ep.branch_steps["branch.no_answer.letter"], 1)
    assert kinds(ep) == ["contact_blocked"]
    assert [d.action for d in ep.s.deferred] == ["letter"]
    due = ep.s.deferred[0].due_at
    assert due > now
    gate.fire_deferred(ep, due, 10)
    assert kinds(ep)[-1] == "letter"
    assert ep.out.actions[-1].detail.stored()["rescheduled_by"]


def test_a_call_task_window_starts_inside_the_preferred_slot(new_episode: EpisodeFactory) -> None:
    ep = delinquent(new_episode())
    ladder.advance(ep, at(DUE + timedelta(days=2), 10))
    call = next(a for a in ep.out.actions if a.kind == "call_task")
    assert call.task_window is not None
    assert call.task_window[0] == at(DUE + timedelta(days=2), 10)
    assert call.task_window[1] == at(DUE + timedelta(days=2), 11, 30)


def test_an_open_call_the_rules_bar_after_it_was_issued_is_withdrawn_naming_the_rule(
    new_episode: EpisodeFactory,
) -> None:
    """cn: at most 3 connected calls a day. A call task issued for this afternoon is withdrawn
    once three conversations happened this morning: no queue offers a call the rules forbid."""
    ep = new_episode()
    day = DUE + timedelta(days=3)
    afternoon = OpenTask(
        task_id="L-UNIT-01234567-9",
        kind="call",
        action_seq=9,
        not_after=at(day, 16),
        target=MOBILE,
    )
    ep.s.open_tasks.append(afternoon)
    for minute in (0, 10, 20):
        deliveries.record_conversation(ep, at(day, 10, minute), MOBILE)
    assert afternoon not in ep.s.open_tasks
    [withdrawn] = ep.out.task_updates
    assert withdrawn.task_id == afternoon.task_id and withdrawn.status == "cancelled"
    assert "cn.connected_calls_per_day" in withdrawn.reason, withdrawn.reason


def test_an_open_call_the_rules_still_allow_stays_open(new_episode: EpisodeFactory) -> None:
    ep = new_episode()
    day = DUE + timedelta(days=3)
    task = OpenTask(
        task_id="L-UNIT-01234567-9", kind="call", action_seq=9, not_after=at(day, 16), target=MOBILE
    )
    ep.s.open_tasks.append(task)
    deliveries.record_conversation(ep, at(day, 10), MOBILE)
    assert task in ep.s.open_tasks and ep.out.task_updates == []
