"""Holds (PLAYBOOK.md sections 8 and 10): what each kind stops, starts and cancels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.outcomes import HardshipIn
from workflows.account import holds, ladder
from workflows.account.episode import NOT_ALLOWED, Refused
from workflows.contracts import CallTaskDetail, HoldRelease

from .conftest import DUE, EpisodeFactory, at, calling, kinds

ATTORNEY = "+8613700137000"


def test_a_dispute_cancels_the_open_calls_and_pauses_the_ladder(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    now = at(DUE + timedelta(days=2), 10)
    holds.add_hold(ep, now, "dispute", {"reason": "disputes the fee"})
    assert ep.s.open_tasks == []
    assert [(u.status, u.reason) for u in ep.out.task_updates] == [
        ("cancelled", "dispute hold: call tasks stop")
    ]
    assert kinds(ep) == ["hold_placed"]
    assert ep.paused(now)


def test_a_reported_death_starts_the_write_off_subflow(new_episode: EpisodeFactory) -> None:
    """Section 8: after verification the loan is submitted for write-off."""
    ep = calling(new_episode())
    holds.add_hold(ep, at(DUE + timedelta(days=2), 10), "deceased", {"reported_by": "alice"})
    assert ep.out.children == ["deceased"]
    assert ep.s.open_tasks == [] and ep.s.deferred == []


def test_no_restructure_offer_is_made_under_a_bankruptcy_hold(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    now = at(DUE + timedelta(days=2), 10)
    holds.add_hold(ep, now, "bankruptcy", {})
    long_term = HardshipIn(cause="job lost", term="long", surmountable=False)
    with pytest.raises(Refused) as refused:
        holds.check_offer_allowed(ep, now, long_term)
    assert refused.value.type == NOT_ALLOWED and "bankruptcy" in refused.value.message


def test_under_an_attorney_hold_the_ladders_calls_go_to_the_attorney(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    holds.add_hold(ep, at(DUE + timedelta(days=2), 12), "attorney", {"attorney_phone": ATTORNEY})
    ladder.advance(ep, at(DUE + timedelta(days=5), 19))
    calls = [a for a in ep.out.actions if a.kind == "call_task"]
    details = [c.detail for c in calls if isinstance(c.detail, CallTaskDetail)]
    assert [(d.to, d.party) for d in details] == [(ATTORNEY, "attorney")]


def test_releasing_the_last_attorney_hold_cancels_the_open_calls_to_the_attorney(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    holds.add_hold(ep, at(DUE + timedelta(days=2), 12), "attorney", {"attorney_phone": ATTORNEY})
    ladder.advance(ep, at(DUE + timedelta(days=5), 19))
    assert [t.party for t in ep.s.open_tasks] == ["attorney"]
    release = HoldRelease(kind="attorney", released_by="carol")
    holds.release_hold(ep, at(DUE + timedelta(days=5), 19, 30), release)
    assert ep.s.open_tasks == []
    assert ep.out.task_updates[-1].reason == (
        "attorney hold released: calls go to the borrower again"
    )


def test_a_hold_that_is_not_open_cannot_be_released(new_episode: EpisodeFactory) -> None:
    ep = calling(new_episode())
    with pytest.raises(Refused):
        holds.check_release(
            ep, at(DUE + timedelta(days=2), 10), HoldRelease(kind="dispute", released_by="carol")
        )
