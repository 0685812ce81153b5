"""Time windows: cn quiet hours 22:00-08:00, us_regf 08:00-21:00 in every zone, DST days."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from domain.contact import BorrowerContext, Channel, decide
from domain.contact.windows import first_inside

from .support import (
    CN_MOBILE,
    EMPTY,
    LA_PHONE,
    LOS_ANGELES,
    NY_PHONE,
    US,
    US_CONTACT,
    cn_decide,
    local,
    new_york,
    propose,
    shanghai,
    us_decide,
)

# --------------------------------------------------------------------------- cn.quiet_hours


def test_cn_quiet_hours_allow_a_call_at_21_59_59_local() -> None:
    decision = cn_decide(propose("call", shanghai(2026, 6, 2, 21, 59, 59), CN_MOBILE))
    assert decision.allowed
    assert decision.earliest == shanghai(2026, 6, 2, 21, 59, 59)


def test_cn_quiet_hours_refuse_a_call_at_22_00_local_until_08_00_next_day() -> None:
    decision = cn_decide(propose("call", shanghai(2026, 6, 2, 22, 0), CN_MOBILE))
    assert not decision.allowed
    assert decision.rule == "cn.quiet_hours"
    assert decision.earliest == shanghai(2026, 6, 3, 8, 0)
    assert "22:00:00" in decision.reason and "08:00-22:00" in decision.reason


def test_cn_quiet_hours_refuse_07_59_59_and_allow_08_00_local() -> None:
    early = cn_decide(propose("sms", shanghai(2026, 6, 2, 7, 59, 59), CN_MOBILE))
    assert early.rule == "cn.quiet_hours"
    assert early.earliest == shanghai(2026, 6, 2, 8, 0)
    assert cn_decide(propose("sms", shanghai(2026, 6, 2, 8, 0), CN_MOBILE)).allowed


def test_cn_quiet_hours_shanghai_borrower_with_utc_instants() -> None:
    # 13:59:59 UTC is 21:59:59 in Shanghai; 14:00 UTC is 22:00; 00:00 UTC is 08:00.
    last = datetime(2026, 6, 2, 13, 59, 59, tzinfo=UTC)
    assert cn_decide(propose("call", last, CN_MOBILE)).allowed
    refused = cn_decide(propose("call", last + timedelta(seconds=1), CN_MOBILE))
    assert refused.rule == "cn.quiet_hours"
    assert refused.earliest == datetime(2026, 6, 3, 0, 0, tzinfo=UTC)
    assert "(Asia/Shanghai)" in refused.reason
    assert cn_decide(propose("call", datetime(2026, 6, 3, 0, 0, tzinfo=UTC), CN_MOBILE)).allowed


@pytest.mark.parametrize("channel", ["sms", "voice", "call", "field_visit"])
def test_cn_quiet_hours_cover_texts_voice_calls_and_visits(channel: Channel) -> None:
    target = None if channel == "field_visit" else CN_MOBILE
    decision = cn_decide(propose(channel, shanghai(2026, 6, 2, 23, 30), target))
    assert decision.rule == "cn.quiet_hours"


def test_cn_quiet_hours_do_not_apply_to_letters() -> None:
    assert cn_decide(propose("letter", shanghai(2026, 6, 2, 3, 0))).allowed


# ---------------------------------------------------------------------- us_regf.call_window


def test_us_regf_call_window_allows_20_59_59_local() -> None:
    assert us_decide(propose("call", new_york(2026, 6, 2, 20, 59, 59), NY_PHONE)).allowed


def test_us_regf_call_window_refuses_21_00_00_local_until_08_00() -> None:
    decision = us_decide(propose("call", new_york(2026, 6, 2, 21, 0), NY_PHONE))
    assert decision.rule == "us_regf.call_window"
    assert decision.earliest == new_york(2026, 6, 3, 8, 0)


def test_us_regf_call_window_refuses_07_59_59_and_allows_08_00() -> None:
    assert us_decide(propose("sms", new_york(2026, 6, 2, 7, 59, 59), NY_PHONE)).rule == (
        "us_regf.call_window"
    )
    assert us_decide(propose("sms", new_york(2026, 6, 2, 8, 0), NY_PHONE)).allowed


@pytest.mark.parametrize("channel", ["sms", "voice", "call"])
def test_us_regf_call_window_covers_calls_voice_and_texts(channel: Channel) -> None:
    decision = us_decide(propose(channel, new_york(2026, 6, 2, 21, 30), NY_PHONE))
    assert decision.rule == "us_regf.call_window"


def test_us_regf_call_window_is_the_intersection_of_address_and_area_code_zones() -> None:
    # Address in New York, phone with a Los Angeles area code: 08:00 LA is 11:00 NY, and
    # 21:00 NY is 18:00 LA, so calls are allowed 11:00-21:00 New York time.
    at_ten = us_decide(propose("call", new_york(2026, 6, 2, 10, 59, 59), LA_PHONE))
    assert at_ten.rule == "us_regf.call_window"
    assert at_ten.earliest == new_york(2026, 6, 2, 11, 0)
    assert "America/Los_Angeles" in at_ten.reason
    assert us_decide(propose("call", new_york(2026, 6, 2, 11, 0), LA_PHONE)).allowed
    assert us_decide(propose("call", new_york(2026, 6, 2, 20, 59, 59), LA_PHONE)).allowed
    late = us_decide(propose("call", new_york(2026, 6, 2, 21, 0), LA_PHONE))
    assert late.rule == "us_regf.call_window"
    assert late.earliest == new_york(2026, 6, 3, 11, 0)
    # The other way round: a New York number for a Los Angeles address closes at 18:00 LA.
    la_home = BorrowerContext(timezone=LOS_ANGELES, phones=[NY_PHONE], country="US")
    assert us_decide(
        propose("call", local(LOS_ANGELES, 2026, 6, 2, 17, 59, 59), NY_PHONE), ctx=la_home
    ).allowed
    closing = us_decide(
        propose("call", local(LOS_ANGELES, 2026, 6, 2, 18, 0), NY_PHONE), ctx=la_home
    )
    assert closing.rule == "us_regf.call_window"
    assert closing.earliest == local(LOS_ANGELES, 2026, 6, 3, 8, 0)


def test_us_regf_call_window_ignores_area_codes_for_visits() -> None:
    # A visit happens at the address: only the address zone counts.
    assert us_decide(propose("field_visit", new_york(2026, 6, 2, 9, 0))).allowed


def test_us_regf_call_window_on_the_spring_forward_day_in_new_york() -> None:
    # 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT. 08:00 EDT is 12:00 UTC.
    night = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    decision = us_decide(propose("call", night, NY_PHONE))
    assert decision.rule == "us_regf.call_window"
    assert decision.earliest == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert not us_decide(
        propose("call", datetime(2026, 3, 8, 11, 59, 59, tzinfo=UTC), NY_PHONE)
    ).allowed
    assert us_decide(propose("call", datetime(2026, 3, 8, 12, 0, tzinfo=UTC), NY_PHONE)).allowed
    # 21:00 EDT is 01:00 UTC the next day.
    assert us_decide(propose("call", datetime(2026, 3, 9, 0, 59, 59, tzinfo=UTC), NY_PHONE)).allowed
    assert not us_decide(propose("call", datetime(2026, 3, 9, 1, 0, tzinfo=UTC), NY_PHONE)).allowed


def test_us_regf_call_window_on_the_fall_back_day_in_new_york() -> None:
    # 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST. 08:00 EST is 13:00 UTC.
    night = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first 01:30
    decision = us_decide(propose("call", night, NY_PHONE))
    assert decision.earliest == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert not us_decide(
        propose("call", datetime(2026, 11, 1, 12, 59, 59, tzinfo=UTC), NY_PHONE)
    ).allowed
    assert us_decide(propose("call", datetime(2026, 11, 1, 13, 0, tzinfo=UTC), NY_PHONE)).allowed
    # 21:00 EST is 02:00 UTC the next day.
    assert us_decide(
        propose("call", datetime(2026, 11, 2, 1, 59, 59, tzinfo=UTC), NY_PHONE)
    ).allowed
    assert not us_decide(propose("call", datetime(2026, 11, 2, 2, 0, tzinfo=UTC), NY_PHONE)).allowed


def test_us_regf_call_window_across_dst_with_two_zones() -> None:
    # On 2026-03-08 New York has moved to EDT and Los Angeles too (both at 02:00 local), so
    # the intersection opens at 08:00 PDT = 11:00 EDT = 15:00 UTC.
    decision = us_decide(propose("sms", datetime(2026, 3, 8, 6, 0, tzinfo=UTC), LA_PHONE))
    assert decision.earliest == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_window_of_zones_that_never_overlap_has_no_earliest_instant() -> None:
    zones = ["America/Los_Angeles", "Europe/London", "Asia/Shanghai"]
    at = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    assert first_inside(at, time(8, 0), time(21, 0), zones) is None


def test_a_call_window_refusal_names_every_zone_it_saw() -> None:
    decision = decide(
        propose("call", new_york(2026, 6, 2, 22, 0), US_CONTACT, party="guarantor"),
        EMPTY,
        [],
        US,
        BorrowerContext(timezone="America/Chicago", phones=[NY_PHONE], country="US"),
    )
    assert "America/Chicago" in decision.reason and "America/New_York" in decision.reason
