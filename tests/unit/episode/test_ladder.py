"""The stage ladder (PLAYBOOK.md section 1) as the episode climbs it, decided at made-up
instants."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from workflows.account import ladder
from workflows.account.episode import SearchAttributes

from .conftest import DUE, EpisodeFactory, at, delinquent, kinds


def test_the_day_before_the_due_date_the_pre_due_sms_goes_out(new_episode: EpisodeFactory) -> None:
    ep = new_episode()
    ladder.advance(ep, at(DUE - timedelta(days=1), 10))
    assert ep.s.state == "pre_due"
    assert [a.step_id for a in ep.out.actions] == ["pre_due_sms"]


def test_the_next_moment_before_the_due_date_is_the_end_of_the_due_date(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    now = at(DUE, 23)
    ladder.advance(ep, now)
    assert ladder.plan_next(ep, now) == at(DUE + timedelta(days=1), 0)
    assert ep.next is not None and ep.next.kind == "enter_collection_if_unpaid"


def test_an_account_unpaid_after_its_due_date_enters_collection_in_the_front_end(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    ladder.advance(ep, at(DUE + timedelta(days=1), 0, 5))
    assert (ep.s.state, ep.s.bucket, ep.s.stage) == ("delinquent", "M1", "front_end")
    assert [(t.from_state, t.to_state) for t in ep.out.transitions] == [("pre_due", "delinquent")]
    assert ep.out.search_attributes == [SearchAttributes("delinquent", "M1", "front_end")]


def test_paid_by_the_end_of_the_due_date_the_episode_ends_paid_on_time(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    ep.s.book.apply_payment("p1", Decimal("1200.00"), DUE)
    ladder.advance(ep, at(DUE + timedelta(days=1), 0, 5))
    assert ep.s.state == "paid_on_time" and ep.closed
    assert ep.s.bucket == "current"


def test_paying_everything_overdue_cures_the_account_back_to_current(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    ladder.advance(ep, at(DUE + timedelta(days=1), 9))
    ep.s.book.apply_payment("p1", Decimal("1300.00"), DUE + timedelta(days=3))
    ladder.advance(ep, at(DUE + timedelta(days=3), 15))
    assert ep.s.state == "cured"
    assert ep.s.path == ["current", "M1", "current"]


def test_crossing_dpd_30_moves_the_account_to_m2_and_the_mid_range(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    ladder.advance(ep, at(DUE + timedelta(days=1), 9))
    ladder.advance(ep, at(DUE + timedelta(days=30), 0, 5))
    assert (ep.s.bucket, ep.s.stage) == ("M2", "mid_range")
    assert ep.out.transitions[-1].reason == "DPD 30: M2, mid_range"


def test_a_payment_of_the_older_instalment_re_anchors_dpd_on_the_next_unpaid(
    new_episode: EpisodeFactory,
) -> None:
    """Two instalments overdue; the older one paid: DPD counts from the next unpaid one, and the
    ladder climbs on from the DPD it has now, never again from the bottom."""
    ep = new_episode()
    second_due = DUE + timedelta(days=31)
    ladder.advance(ep, at(DUE + timedelta(days=1), 9))
    today = second_due + timedelta(days=5)
    ladder.advance(ep, at(today, 9))
    assert ep.s.anchor == DUE and ep.s.book.dpd(today) == 36
    ep.s.book.apply_payment("p1", Decimal("1250.00"), today)
    ladder.advance(ep, at(today, 15))
    assert ep.s.anchor == second_due
    assert ep.s.book.dpd(today) == 5
    assert ep.s.floor == 5


def test_outside_the_contact_window_no_step_fires_and_the_window_opening_is_the_next_moment(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    night = at(DUE - timedelta(days=1), 23)  # the pre-due SMS was due at 10:00
    ladder.advance(ep, night)
    assert kinds(ep) == []
    assert ladder.plan_next(ep, night) == at(DUE, 8)
    assert ep.next is not None and ep.next.kind == "contact_window_opens"


def test_a_never_paid_loan_is_a_skip_from_day_one(new_episode: EpisodeFactory) -> None:
    """Section 12: a skip account has never paid since the loan was made."""
    ep = new_episode(history={"prior_delinquencies": 0, "ever_paid": False})
    ladder.advance(ep, at(DUE + timedelta(days=1), 9))
    assert "skip_trace" in kinds(ep)
    assert ep.s.skip_since == at(DUE + timedelta(days=1), 9)


def test_the_strategys_charge_off_day_submits_the_account_for_write_off_whatever_the_cause(
    new_episode: EpisodeFactory,
) -> None:
    """Issue 17 item 3: at the strategy's charge-off DPD (default 180) a delinquent account
    starts the write-off subflow (review, four-eyes approval) once, and stops accruing; the
    workflow wakes for that day even with no ladder step left."""
    ep = delinquent(new_episode())
    assert ep.strategy.branches.write_off.charge_off_dpd == 180
    ladder.advance(ep, at(DUE + timedelta(days=170)))
    assert ladder.charge_off_day(ep) == DUE + timedelta(days=180)
    ep.s.open_tasks.clear()  # nothing else left to wait for
    ep.s.deferred.clear()
    assert ladder.plan_next(ep, at(DUE + timedelta(days=170))) is not None
    assert ep.next is not None and ep.next.kind == "charge_off"
    assert ep.next.at == at(DUE + timedelta(days=180), 0)
    assert ep.out.children == []
    ladder.advance(ep, at(DUE + timedelta(days=180), 0))
    assert ep.out.children == ["charge_off"]
    assert ep.s.charged_off_on == DUE + timedelta(days=180)
    assert ep.s.book.accrual_stopped_on == DUE + timedelta(days=180)
    ep.out.children.clear()
    ladder.advance(ep, at(DUE + timedelta(days=181)))
    assert ep.out.children == []


def test_no_charge_off_while_a_write_off_for_death_or_bankruptcy_is_under_way(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    ep.s.write_off_child = "write-off-L-UNIT-1"
    ladder.advance(ep, at(DUE + timedelta(days=185)))
    assert ep.out.children == [] and ep.s.charged_off_on is None
