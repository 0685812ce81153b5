"""Subflows (PLAYBOOK.md sections 8 and 9) and what the channels teach (section 12)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.restructure import build_offer
from workflows.account import deliveries, holds, subflows
from workflows.contracts import ContactEvent, RestructureAcceptedDetail, SubflowEvent

from .conftest import DUE, MOBILE, EpisodeFactory, at, delinquent, kinds


def _event(kind: str, child: str, **detail: object) -> SubflowEvent:
    subflow = "write_off" if "write" in kind or kind in ("task_needed",) else "restructure"
    return SubflowEvent(
        subflow=subflow, child_id=child, kind=kind, at=at(DUE + timedelta(days=5)), detail=detail
    )


def test_an_accepted_restructure_plan_moves_the_account_to_restructured_and_ends_its_work(
    new_episode: EpisodeFactory,
) -> None:
    """Issue 17 item 1: the plan replaces the schedule. At DPD 5 both instalments (2400.00)
    and 3.00 of penalty are owed; the offer waives the penalty and reschedules 2400.00 in six
    400.00 instalments: the book then owes exactly those, DPD 0, bucket current."""
    ep = delinquent(new_episode())
    ep.s.restructure_child = "restructure-L-UNIT-1"
    now = at(DUE + timedelta(days=5), 10)
    ep.s.book.accrue_to(DUE + timedelta(days=5))
    offer = build_offer(
        ep.s.book.balance,
        ep.s.book.penalty_outstanding,
        "CNY",
        DUE + timedelta(days=5),
        ep.strategy.branches.restructure,
    )
    assert (offer.waiver, offer.total) == (Decimal("3.00"), Decimal("2400.00"))
    said = {**offer.model_dump(mode="json"), "recorded_by": "alice"}
    event = subflows.parse(_event("restructure_accepted", "restructure-L-UNIT-1", **said))
    assert isinstance(event, subflows.RestructureAccepted)
    subflows.on_event(ep, now, event)
    assert (ep.s.state, ep.s.bucket) == ("restructured", "current")
    assert ep.paused(now)
    assert ep.s.book.balance == Decimal("2400.00") and ep.dpd(now) == 0
    assert [i.amount for i in ep.s.book.instalments] == [Decimal("400.00")] * 6
    [accepted] = [a for a in ep.out.actions if a.kind == "restructure_accepted"]
    assert isinstance(accepted.detail, RestructureAcceptedDetail)
    assert (accepted.detail.waived, accepted.detail.replaced) == (Decimal("3.00"), [7, 8])
    status = ep.status(now)
    assert (status.dpd, status.bucket, status.amount_overdue) == (0, "current", Decimal(0))


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
