"""Outside agencies and legal cases (PLAYBOOK.md sections 1, 2 and 12; issue 5)."""

from __future__ import annotations

from datetime import timedelta

from domain.vocabulary import AccountState
from workflows.account import agency_legal, ladder
from workflows.account.episode import Episode

from .conftest import DUE, EpisodeFactory, at, delinquent, kinds

PERIOD_END = at(DUE + timedelta(days=150), 0)


def _placed(new_episode: EpisodeFactory, agencies: int = 1) -> Episode:
    ep = delinquent(new_episode())
    ep.s.placement = {
        "placement_id": "PL-1",
        "agency_id": "A-1",
        "agency": "First Agency",
        "commission_rate": "0.18",
        "period_end": PERIOD_END.isoformat(),
    }
    ep.s.placed_agencies = [f"A-{n}" for n in range(1, agencies + 1)]
    return ep


def test_at_the_end_of_its_period_the_account_is_recalled_and_a_secondary_agency_tries(
    new_episode: EpisodeFactory,
) -> None:
    ep = _placed(new_episode)
    agency_legal.advance_placement(ep, PERIOD_END)
    assert kinds(ep) == ["oca_recall", "oca_placement"]
    assert ep.out.actions[1].detail.stored()["exclude_agencies"] == ["A-1"]
    assert ep.s.placement is None


def test_after_the_last_agency_the_account_goes_to_legal(new_episode: EpisodeFactory) -> None:
    """Path 1 (section 4): collection failed; forced into costly steps."""
    ep = _placed(new_episode, agencies=ep_max_placements())
    agency_legal.advance_placement(ep, PERIOD_END)
    assert kinds(ep) == ["oca_recall", "lawsuit"]
    assert ep.out.actions[1].step_id == "branch.legal_after_agency"


def ep_max_placements() -> int:
    from .conftest import STRATEGY

    return STRATEGY.branches.agency.max_placements


def test_a_payment_in_full_ends_the_placement_and_the_legal_case(
    new_episode: EpisodeFactory,
) -> None:
    ep = _placed(new_episode)
    ep.s.legal_case = "CASE-1"
    ladder.transition(ep, at(DUE + timedelta(days=40)), AccountState.CURED, 40, "paid")
    assert kinds(ep) == ["oca_recall", "lawsuit"]
    assert ep.out.actions[1].detail.stored()["case_id"] == "CASE-1"
    assert ep.out.actions[0].detail.stored()["recall_reason"] == "paid in full"


def test_a_dispute_tells_the_placed_agency_to_stop_and_its_release_to_resume(
    new_episode: EpisodeFactory,
) -> None:
    from workflows.account import holds
    from workflows.contracts import HoldRelease

    ep = _placed(new_episode)
    now = at(DUE + timedelta(days=40), 10)
    holds.add_hold(ep, now, "dispute", {})
    assert kinds(ep) == ["hold_placed", "oca_hold_notice"]
    holds.release_hold(ep, now + timedelta(days=2), HoldRelease(kind="dispute", released_by="c"))
    agency_legal.tell_holds_ended(ep, now + timedelta(days=2))
    assert kinds(ep)[-1] == "oca_resume_notice"
    assert ep.out.actions[-1].detail.stored()["may_resume"] is True
