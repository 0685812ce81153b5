"""The `compliance` query's answer (issue 15): per channel, what the gate allows next and why,
the attempts left under each cap, the next allowed instant in the borrower's local time. Made-up
instants in Asia/Shanghai under the cn profile (quiet hours 22:00-08:00, at most 3 connected
calls and 6 unanswered calls per number per local day)."""

from __future__ import annotations

from datetime import timedelta

from domain.contact import ContactRecord, earliest_allowed
from domain.contact.decide import ProposedContact
from workflows.account import holds
from workflows.account.compliance import compliance_status
from workflows.account.episode import Episode
from workflows.contracts import ChannelCompliance

from .conftest import DUE, HOME, MOBILE, EpisodeFactory, at, delinquent

DAY = DUE + timedelta(days=2)  # Thursday 2026-03-12, an ordinary working day
ATTORNEY = "+12025550143"


def _channel(ep: Episode, hour: int, channel: str, minute: int = 0) -> ChannelCompliance:
    answer = compliance_status(ep, at(DAY, hour, minute))
    return next(c for c in answer.channels if c.channel == channel)


def _calls(ep: Episode, result: str, count: int, target: str = MOBILE) -> None:
    assert ep.s.ledger is not None
    for n in range(count):
        record = ContactRecord(
            at=at(DAY, 9, n), channel="call", target=target, result=result, conversation=True
        )
        ep.s.ledger = ep.s.ledger.with_record(record)


def test_in_quiet_hours_a_call_waits_for_eight_in_the_morning_borrower_time(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    call = _channel(ep, 23, "call")
    assert not call.allowed_now
    assert call.rule == "cn.quiet_hours"
    assert call.next_allowed == at(DAY + timedelta(days=1), 8)
    assert call.next_allowed_local == "2026-03-13 08:00"
    answer = compliance_status(ep, at(DAY, 23))
    assert answer.timezone == "Asia/Shanghai" and answer.local_time == "2026-03-12 23:00"
    assert answer.profile == "cn"


def test_within_the_window_a_call_is_allowed_now_and_shows_the_attempts_left_today(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    _calls(ep, "connected", 1)
    call = _channel(ep, 14, "call")
    assert call.allowed_now and call.rule is None
    assert call.next_allowed == at(DAY, 14)
    connected = next(c for c in call.caps if c.rule == "cn.connected_calls_per_day")
    assert (connected.used, connected.left, connected.max) == (1, 2, 3)
    assert connected.first_day == connected.last_day == DAY


def test_after_three_connected_calls_today_the_next_call_is_tomorrow_at_eight(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    _calls(ep, "connected", 3)
    call = _channel(ep, 14, "call")
    assert not call.allowed_now
    assert call.rule == "cn.connected_calls_per_day"
    assert call.next_allowed_local == "2026-03-13 08:00"
    connected = next(c for c in call.caps if c.rule == "cn.connected_calls_per_day")
    assert (connected.used, connected.left) == (3, 0)
    # Texts are not calls: the cap does not hold them back.
    sms = _channel(ep, 14, "sms")
    assert sms.allowed_now and sms.caps == []


def test_the_answer_is_the_gates_own_for_the_same_contact(new_episode: EpisodeFactory) -> None:
    """Whatever the ledger holds, the query says what `earliest_allowed` would decide."""
    ep = delinquent(new_episode())
    _calls(ep, "unanswered", 6, target=HOME)
    _calls(ep, "connected", 2)
    for hour in (7, 12, 21, 22):
        call = _channel(ep, hour, "call", minute=30)
        assert ep.s.ledger is not None
        proposal = ProposedContact(channel="call", at=at(DAY, hour, 30), target=call.target)
        decision = earliest_allowed(
            proposal, ep.s.ledger, ep.s.holds, ep.profile, ep.context, calendars=ep.calendars
        )
        assert call.next_allowed == (decision.earliest if decision.allowed else None)
        assert call.reason == decision.reason


def test_the_number_to_call_now_is_the_one_tried_least(new_episode: EpisodeFactory) -> None:
    ep = delinquent(new_episode())
    _calls(ep, "unanswered", 2, target=MOBILE)
    call = _channel(ep, 14, "call")
    assert call.target == HOME
    per_number = next(c for c in call.caps if c.rule == "cn.unanswered_per_number_per_day")
    assert (per_number.used, per_number.left) == (0, 6)


def test_with_no_live_number_the_phone_channels_are_refused_by_name(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    assert ep.s.ledger is not None
    ep.s.ledger = ep.s.ledger.with_dead_number(MOBILE).with_dead_number(HOME)
    for channel in ("call", "sms", "voice"):
        answer = _channel(ep, 14, channel)
        assert not answer.allowed_now and answer.next_allowed is None
        assert answer.rule == "number.none_reachable"
    assert _channel(ep, 14, "letter").allowed_now


def test_a_represented_borrowers_calls_go_to_the_attorney_and_letters_to_them_stop(
    new_episode: EpisodeFactory,
) -> None:
    ep = delinquent(new_episode())
    holds.add_hold(ep, at(DAY, 9), "attorney", {"attorney_phone": ATTORNEY})
    call = _channel(ep, 14, "call")
    assert (call.party, call.target) == ("attorney", ATTORNEY)
    letter = _channel(ep, 14, "letter")
    assert not letter.allowed_now and letter.rule == "hold.attorney"
    assert letter.next_allowed is None  # a hold without an end: only facts lift it
