from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import (
    add_months,
    date_at_dpd,
    days_past_due,
    local_date,
    local_instant,
    start_of_local_day,
    validate_timezone,
)

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"


def test_shanghai_borrower_is_still_on_the_previous_day_just_before_1600_utc() -> None:
    instant = datetime(2026, 12, 1, 15, 59, 59, tzinfo=UTC)
    assert local_date(instant, SHANGHAI) == date(2026, 12, 1)


def test_shanghai_borrower_starts_a_new_day_at_1600_utc() -> None:
    instant = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert local_date(instant, SHANGHAI) == date(2026, 12, 2)


def test_dpd_ticks_over_at_local_midnight_not_utc_midnight() -> None:
    due = date(2026, 12, 1)
    before = local_date(datetime(2026, 12, 1, 15, 59, tzinfo=UTC), SHANGHAI)
    after = local_date(datetime(2026, 12, 1, 16, 0, tzinfo=UTC), SHANGHAI)
    assert days_past_due(due, before) == 0
    assert days_past_due(due, after) == 1


def test_local_date_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="time zone offset"):
        local_date(datetime(2026, 12, 1, 12, 0), SHANGHAI)


def test_local_date_accepts_an_instant_with_any_offset() -> None:
    new_york_evening = datetime(2026, 12, 1, 11, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert local_date(new_york_evening, SHANGHAI) == date(2026, 12, 2)


def test_start_of_local_day_in_shanghai_is_1600_utc_the_day_before() -> None:
    assert start_of_local_day(date(2026, 12, 2), SHANGHAI) == datetime(
        2026, 12, 1, 16, 0, tzinfo=UTC
    )


def test_local_instant_is_returned_in_utc() -> None:
    at = local_instant(date(2026, 12, 2), time(10, 0), SHANGHAI)
    assert at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert at.tzinfo is UTC


def test_new_york_offsets_differ_across_dst() -> None:
    winter = local_instant(date(2026, 1, 15), time(10, 0), NEW_YORK)
    summer = local_instant(date(2026, 7, 15), time(10, 0), NEW_YORK)
    assert winter.hour == 15
    assert summer.hour == 14


def test_wall_time_in_the_spring_forward_gap_moves_past_the_gap() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist; it becomes 03:30 EDT.
    at = local_instant(date(2026, 3, 8), time(2, 30), NEW_YORK)
    assert at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert at.astimezone(ZoneInfo(NEW_YORK)).time() == time(3, 30)


def test_ambiguous_wall_time_in_the_autumn_fold_takes_the_first_occurrence() -> None:
    # 2026-11-01 01:30 happens twice in New York; the first (EDT, UTC-4) is 05:30 UTC.
    assert local_instant(date(2026, 11, 1), time(1, 30), NEW_YORK) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_new_york_day_boundary_on_dst_days() -> None:
    assert start_of_local_day(date(2026, 3, 8), NEW_YORK) == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert start_of_local_day(date(2026, 3, 9), NEW_YORK) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert local_date(datetime(2026, 3, 9, 3, 59, tzinfo=UTC), NEW_YORK) == date(2026, 3, 8)
    assert local_date(datetime(2026, 3, 9, 4, 0, tzinfo=UTC), NEW_YORK) == date(2026, 3, 9)


def test_dpd_is_zero_when_nothing_is_overdue() -> None:
    assert days_past_due(None, date(2026, 12, 5)) == 0


def test_dpd_is_zero_before_and_on_the_due_date_and_one_the_day_after() -> None:
    due = date(2026, 12, 1)
    assert days_past_due(due, date(2026, 11, 30)) == 0
    assert days_past_due(due, due) == 0
    assert days_past_due(due, date(2026, 12, 2)) == 1
    assert days_past_due(due, date(2026, 12, 31)) == 30


def test_date_at_dpd_minus_one_is_the_day_before_the_due_date() -> None:
    due = date(2026, 12, 1)
    assert date_at_dpd(due, -1) == date(2026, 11, 30)
    assert date_at_dpd(due, 30) == date(2026, 12, 31)
    assert days_past_due(due, date_at_dpd(due, 150)) == 150


def test_add_months_clamps_the_day_of_month() -> None:
    assert add_months(date(2026, 8, 31), -6) == date(2026, 2, 28)
    assert add_months(date(2028, 8, 31), -6) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), -6) == date(2026, 6, 15)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 3, 10), -3) == date(2025, 12, 10)


def test_unknown_time_zone_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="not a known IANA time zone"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="not a known IANA time zone"):
        validate_timezone("../etc/passwd")
