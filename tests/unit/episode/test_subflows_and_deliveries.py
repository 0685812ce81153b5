"""Subflows (PLAYBOOK.md sections 8 and 9) and what the channels teach (section 12)."""

from __future__ import annotations

from datetime import timedelta

from workflows.account import deliveries, holds, subflows
from workflows.contracts import ContactEvent, SubflowEvent

from .conftest import DUE, MOBILE, EpisodeFactory, at, delinquent, kinds


def _event(kind: str, child: str, **detail: object) -> SubflowEvent:
    subflow = "write_off" if "write" in kind or kind in ("task_needed",) else "restructure"
    return SubflowEvent(
        subflow=subflow, child_id=child, kind=kind, at=at(DUE + timedelta(days=5)), detail=detail
    )


def test_an_accepted_restructure_plan_moves_the_account_to_restructured_and_ends_its_work(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    ep.s.restructure_child = "restructure-L-UNIT-1"
    now = at(DUE + timedelta(days=5), 10)
    event = subflows.parse(_event("restructure_accepted", "restructure-L-UNIT-1"))
    assert isinstance(event, subflows.RestructureAccepted)
    subflows.on_event(ep, now, event)
    assert (ep.s.state, ep.s.bucket) == ("restructured", "current")
    assert ep.paused(now)


def test_a_write_off_not_verified_ends_the_death_hold_and_collection_resumes(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=5), 10)
    holds.add_hold(ep, now, "deceased", {"reported_by": "alice"})
    ep.s.write_off_child = "write-off-L-UNIT-1"
    event = subflows.parse(
        _event("write_off_not_verified", "write-off-L-UNIT-1", reason="not verified")
    )
    assert isinstance(event, subflows.WriteOffNotVerified)
    subflows.on_event(ep, now + timedelta(days=1), event)
    assert not ep.paused(now + timedelta(days=1))
    assert kinds(ep)[-2:] == ["hold_released", "write_off"]


def test_a_write_off_not_verified_in_time_keeps_the_hold_for_a_supervisor(
    new_episode: EpisodeFactory,
) -> None:
    event = subflows.parse(_event("write_off_not_verified", "w-1", reason="deadline passed"))
    assert isinstance(event, subflows.WriteOffStalled)


def test_an_invalid_number_reported_by_the_provider_is_dead_for_every_later_contact(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    now = at(DUE + timedelta(days=2))
    event = ContactEvent(
        kind="delivery_failed", number=MOBILE, at=now, detail={"error_code": 21211}
    )
    deliveries.on_contact_event(ep, now, event)
    assert ep.s.ledger is not None and MOBILE in ep.s.ledger.dead_numbers
    assert ep.out.actions[-1].detail.stored()["verdict"] == "dead"


def test_three_undelivered_texts_in_a_row_mean_no_more_sms_to_that_number(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    for day in (2, 3, 4):
        now = at(DUE + timedelta(days=day))
        event = ContactEvent(kind="delivery_failed", number=MOBILE, at=now)
        deliveries.on_contact_event(ep, now, event)
    verdicts = [a.detail.stored()["verdict"] for a in ep.out.actions]
    assert verdicts == ["temporary", "temporary", "no_sms"]
    assert ep.s.ledger is not None and not ep.s.ledger.sms_capable(MOBILE)
