"""The compliance gate (DESIGN.md: a gate, not a report): every contact passes the contact
rules; a refused one is recorded and moved to the earliest allowed instant."""

from __future__ import annotations

from datetime import timedelta

from workflows.account import gate, ladder

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
