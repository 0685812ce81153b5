"""earliest_allowed: rescheduling a refused contact to the first instant every rule allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.contact import Decision, Hold, earliest_allowed

from .support import (
    CN,
    CN_CTX,
    CN_MOBILE,
    EMPTY,
    NY_CTX,
    NY_PHONE,
    US,
    cn_decide,
    ledger_of,
    new_york,
    propose,
    record,
    shanghai,
    us_decide,
)


def test_earliest_allowed_is_the_proposed_instant_when_allowed_at_once() -> None:
    proposed = propose("call", shanghai(2026, 6, 2, 10), CN_MOBILE)
    decision = earliest_allowed(proposed, EMPTY, [], CN, CN_CTX)
    assert decision.allowed
    assert decision.earliest == proposed.at
    assert "blocked_by" not in decision.requirements


def test_earliest_allowed_chains_quiet_hours_then_national_day() -> None:
    proposed = propose("field_visit", shanghai(2026, 9, 30, 23, 0))
    decision = earliest_allowed(proposed, EMPTY, [], CN, CN_CTX)
    assert decision.allowed
    assert decision.earliest == shanghai(2026, 10, 8, 8, 0)
    assert decision.requirements["blocked_by"] == "cn.quiet_hours"
    assert decision.requirements["blocked_chain"] == ["cn.quiet_hours", "holiday.field_visit"]
    assert decision.requirements["agents"] == 2
    assert "holiday.field_visit" in decision.reason


def test_earliest_allowed_chains_night_then_hold_then_cap() -> None:
    # Seven calls on June 4 fill the 7-in-7 cap until June 11; a grace period runs from June 9
    # to 12:00 on June 10; the proposal is at night on June 8.
    calls = ledger_of(
        *[record("call", new_york(2026, 6, 4, 9, m), "unanswered", NY_PHONE) for m in range(7)]
    )
    grace = Hold(kind="grace", since=new_york(2026, 6, 9), until=new_york(2026, 6, 10, 12))
    proposed = propose("call", new_york(2026, 6, 8, 21, 30), NY_PHONE)
    decision = earliest_allowed(proposed, calls, [grace], US, NY_CTX)
    assert decision.allowed
    assert decision.earliest == new_york(2026, 6, 11, 8, 0)
    assert decision.requirements["blocked_by"] == "us_regf.call_window"
    assert decision.requirements["blocked_chain"] == [
        "us_regf.call_window",
        "hold.grace",
        "us_regf.seven_in_seven",
    ]
    at_earliest = proposed.model_copy(update={"at": decision.earliest})
    assert us_decide(at_earliest, calls, [grace]).allowed


def test_earliest_allowed_passes_through_a_cap_that_reopens_on_a_later_day() -> None:
    calls = [record("call", new_york(2026, 6, 4, 9, m), "unanswered", NY_PHONE) for m in range(7)]
    proposed = propose("call", new_york(2026, 6, 8, 21, 30), NY_PHONE)
    decision = earliest_allowed(proposed, ledger_of(*calls), [], US, NY_CTX)
    assert decision.earliest == new_york(2026, 6, 11, 8, 0)
    assert decision.requirements["blocked_chain"] == [
        "us_regf.call_window",
        "us_regf.seven_in_seven",
    ]


def test_earliest_allowed_ends_with_the_refusal_only_facts_can_lift() -> None:
    dispute = Hold(kind="dispute", since=shanghai(2026, 6, 3))  # reported after the proposal
    proposed = propose("call", shanghai(2026, 6, 2, 23, 0), CN_MOBILE)
    decision = earliest_allowed(proposed, EMPTY, [dispute], CN, CN_CTX)
    assert not decision.allowed
    assert decision.rule == "hold.dispute"
    assert decision.earliest is None
    assert decision.requirements["blocked_by"] == "cn.quiet_hours"
    assert "hold.dispute" in decision.reason


def test_earliest_allowed_bankruptcy_refuses_for_good() -> None:
    bankruptcy = Hold(kind="bankruptcy", since=shanghai(2026, 6, 1))
    proposed = propose("letter", shanghai(2026, 6, 2, 10), purpose="notice")
    decision = earliest_allowed(proposed, EMPTY, [bankruptcy], CN, CN_CTX)
    assert not decision.allowed
    assert decision.rule == "hold.bankruptcy"
    assert decision.requirements["blocked_by"] == "hold.bankruptcy"
    assert decision.earliest is None


def test_earliest_allowed_gives_up_beyond_the_horizon() -> None:
    long_grace = Hold(
        kind="grace", since=shanghai(2026, 6, 1), until=shanghai(2026, 6, 1) + timedelta(days=90)
    )
    proposed = propose("call", shanghai(2026, 6, 2, 10), CN_MOBILE)
    decision = earliest_allowed(proposed, EMPTY, [long_grace], CN, CN_CTX, horizon_days=60)
    assert not decision.allowed
    assert decision.earliest is None
    not_before = datetime.fromisoformat(str(decision.requirements["not_before"]))
    assert not_before == long_grace.until
    longer = earliest_allowed(proposed, EMPTY, [long_grace], CN, CN_CTX, horizon_days=120)
    assert longer.earliest == shanghai(2026, 8, 30, 8, 0)  # it ends at midnight: quiet hours
    assert longer.requirements["blocked_chain"] == ["hold.grace", "cn.quiet_hours"]


def test_earliest_allowed_instant_is_allowed_and_a_second_earlier_is_not() -> None:
    ledger = ledger_of(
        *[record("call", shanghai(2026, 6, 2, 9, m), "connected", CN_MOBILE) for m in range(3)]
    )
    proposed = propose("call", shanghai(2026, 6, 2, 12), CN_MOBILE)
    decision = earliest_allowed(proposed, ledger, [], CN, CN_CTX)
    assert decision.earliest == shanghai(2026, 6, 3, 8, 0)
    assert cn_decide(proposed.model_copy(update={"at": decision.earliest}), ledger).allowed
    earlier = decision.earliest - timedelta(seconds=1)
    assert not cn_decide(proposed.model_copy(update={"at": earlier}), ledger).allowed


def test_decisions_round_trip_through_json() -> None:
    proposed = propose("field_visit", shanghai(2026, 9, 30, 23, 0))
    decision = earliest_allowed(proposed, EMPTY, [], CN, CN_CTX)
    again = Decision.model_validate_json(decision.model_dump_json())
    assert again == decision
