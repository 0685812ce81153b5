"""Public holidays: no letters and no field visits on the borrower's public holidays."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from domain.contact import public_holiday
from domain.contact.public_holidays import (
    CALENDARS_DIR,
    CalendarError,
    HolidayCalendars,
    use_calendars,
)

from .support import (
    CN_MOBILE,
    MA_CTX,
    NY_CTX,
    cn_decide,
    local,
    ma_decide,
    new_york,
    propose,
    shanghai,
    us_decide,
)


def test_holiday_letter_refused_on_cn_national_day() -> None:
    decision = cn_decide(propose("letter", shanghai(2026, 10, 1, 10, 0)))
    assert decision.rule == "holiday.letter"
    assert "National Day" in decision.reason
    # The Golden Week runs to October 7; letters have no time window, so midnight of the 8th.
    assert decision.earliest == shanghai(2026, 10, 8, 0, 0)


def test_holiday_field_visit_refused_on_cn_national_day_until_the_window_opens_after() -> None:
    decision = cn_decide(propose("field_visit", shanghai(2026, 10, 4, 10, 0)))
    assert decision.rule == "holiday.field_visit"
    assert decision.earliest == shanghai(2026, 10, 8, 8, 0)


def test_holiday_does_not_stop_calls_or_texts() -> None:
    assert cn_decide(propose("call", shanghai(2026, 10, 1, 10, 0), CN_MOBILE)).allowed
    assert cn_decide(propose("sms", shanghai(2026, 10, 1, 10, 0), CN_MOBILE)).allowed


def test_holiday_cn_weekend_inside_golden_week_refused_make_up_saturday_allowed() -> None:
    """Both halves depend on the State Council's arrangement (policy/calendars/CN/2026.yaml),
    not on the weekday: Sunday 2026-10-04 is a day off of the National Day holiday, and Saturday
    2026-10-10 is a make-up working day (调休), which must not be read as a holiday."""
    golden_sunday, make_up_saturday = date(2026, 10, 4), date(2026, 10, 10)
    assert (golden_sunday.weekday(), make_up_saturday.weekday()) == (6, 5)
    official = HolidayCalendars.load().year("CN", 2026)
    assert official is not None and official.status == "official"
    assert official.holidays[golden_sunday] == "National Day"
    assert make_up_saturday in official.workdays

    refused = cn_decide(propose("letter", shanghai(2026, 10, 4, 10, 0)))
    assert refused.rule == "holiday.letter"
    assert "National Day" in refused.reason
    assert cn_decide(propose("field_visit", shanghai(2026, 10, 4, 10, 0))).rule == (
        "holiday.field_visit"
    )
    assert cn_decide(propose("letter", shanghai(2026, 10, 10, 10, 0))).allowed
    assert cn_decide(propose("field_visit", shanghai(2026, 10, 10, 10, 0))).allowed


def test_holiday_cn_ordinary_sunday_is_not_a_public_holiday() -> None:
    assert date(2026, 10, 11).weekday() == 6
    assert public_holiday(date(2026, 10, 11), "CN") is None
    assert cn_decide(propose("letter", shanghai(2026, 10, 11, 10, 0))).allowed
    assert cn_decide(propose("field_visit", shanghai(2026, 10, 11, 10, 0))).allowed


def test_holiday_cn_uses_the_borrowers_local_date() -> None:
    # 2026-09-30 17:00 UTC is already October 1 in Shanghai.
    from datetime import UTC, datetime

    at = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert cn_decide(propose("letter", at)).rule == "holiday.letter"


@pytest.fixture
def calendars_without_cn_2027() -> Iterator[HolidayCalendars]:
    """The shipped calendars as they stand on 2026-12-07: the State Council has not published
    2027 yet (an operator adding the file is a separate test)."""
    shipped = HolidayCalendars.load()
    assert shipped.year("CN", 2027) is None, "CN 2027 is published now: update this test"
    previous = use_calendars(shipped)
    yield shipped
    use_calendars(previous)


def test_holiday_cn_year_without_an_official_file_is_provisional_and_says_so(
    calendars_without_cn_2027: HolidayCalendars,
) -> None:
    """No official 2027 arrangement: the statutory days still refuse letters and visits, and
    every refusal names the holiday as provisional; the weekend days off and make-up working days
    are unknown, so an ordinary weekend stays a day letters may go out."""
    national_day = cn_decide(propose("letter", shanghai(2027, 10, 1, 10, 0)))
    assert national_day.rule == "holiday.letter"
    assert "National Day" in national_day.reason
    assert "provisional: no official CN calendar for 2027" in national_day.reason
    spring = cn_decide(propose("field_visit", shanghai(2027, 2, 6, 10, 0)))
    assert spring.rule == "holiday.field_visit"
    assert date(2027, 10, 9).weekday() == 5
    assert cn_decide(propose("letter", shanghai(2027, 10, 9, 10, 0))).allowed


def test_holiday_calendars_report_an_active_region_without_a_file_for_the_next_60_days(
    calendars_without_cn_2027: HolidayCalendars,
) -> None:
    assert calendars_without_cn_2027.uncovered(["CN", "US", "US-MA"], date(2026, 12, 7), 60) == [
        ("CN", 2027)
    ]
    assert calendars_without_cn_2027.uncovered(["CN"], date(2026, 3, 1), 60) == []


def test_holiday_an_operator_adds_a_year_as_a_file_without_a_release(tmp_path: Path) -> None:
    shutil.copytree(CALENDARS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "CN" / "2027.yaml").write_text(
        "region: CN\nyear: 2027\nversion: 1\nstatus: official\n"
        "source: 国务院办公厅关于2027年部分节假日安排的通知\n"
        "holidays: {2027-10-01: National Day, 2027-10-09: National Day}\n"
        "workdays: [2027-10-16]\n",
        encoding="utf-8",
    )
    calendars = HolidayCalendars.load(tmp_path)
    assert calendars.holiday(date(2027, 10, 9), "CN") == "National Day"
    assert calendars.holiday(date(2027, 10, 16), "CN") is None
    assert calendars.uncovered(["CN"], date(2026, 12, 7), 60) == []
    assert any(ref.startswith("CN/2027@v1#") for ref in calendars.references())


def test_holiday_a_calendar_file_in_the_wrong_place_or_with_a_bad_day_is_refused_by_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "CN").mkdir()
    misplaced = tmp_path / "CN" / "2028.yaml"
    misplaced.write_text(
        "region: CN\nyear: 2027\nversion: 1\nstatus: official\nsource: x\nholidays: {}\n"
    )
    with pytest.raises(CalendarError, match="2028.yaml"):
        HolidayCalendars.load(tmp_path)
    misplaced.write_text(
        "region: CN\nyear: 2028\nversion: 1\nstatus: official\nsource: x\n"
        "holidays: {2027-12-31: New Year}\n"
    )
    with pytest.raises(CalendarError, match="not in 2028"):
        HolidayCalendars.load(tmp_path)


def test_holiday_a_test_calendar_holds_exactly_the_days_it_names() -> None:
    calendars = HolidayCalendars.fixed({"CN": {date(2031, 5, 6): "Test Day"}})
    assert calendars.holiday(date(2031, 5, 6), "CN") == "Test Day"
    assert calendars.holiday(date(2031, 10, 1), "CN") is None
    assert calendars.holiday(date(2026, 10, 1), "CN") is None
    assert calendars.holiday(date(2026, 11, 26), "US") is None


def test_holiday_us_federal_thanksgiving_refuses_letters_and_visits() -> None:
    thanksgiving = new_york(2026, 11, 26, 10, 0)
    assert us_decide(propose("letter", thanksgiving)).rule == "holiday.letter"
    visit = us_decide(propose("field_visit", thanksgiving))
    assert visit.rule == "holiday.field_visit"
    assert visit.earliest == new_york(2026, 11, 27, 8, 0)
    assert us_decide(propose("letter", new_york(2026, 11, 27, 10, 0))).allowed


def test_holiday_us_subdivision_patriots_day_only_in_massachusetts() -> None:
    patriots_day = new_york(2026, 4, 20, 10, 0)
    assert ma_decide(propose("letter", patriots_day)).rule == "holiday.letter"
    assert us_decide(propose("letter", patriots_day)).allowed
    assert public_holiday(date(2026, 4, 20), MA_CTX.country, MA_CTX.subdivision) is not None
    assert public_holiday(date(2026, 4, 20), NY_CTX.country, NY_CTX.subdivision) is None


def test_holiday_us_weekend_is_not_a_holiday() -> None:
    assert us_decide(propose("letter", local("America/New_York", 2026, 6, 6, 10))).allowed


def test_holiday_an_episode_decides_with_its_pinned_calendars_not_the_processs() -> None:
    """A running episode keeps the calendars it pinned: a year added to the worker's directory
    later changes nothing for it until it re-pins at a safe point."""
    from domain.contact import ContactLedger, allowed_until, audit_ledger, decide, earliest_allowed
    from domain.contact.ledger import ContactRecord

    from .support import CN, CN_CTX

    pinned = HolidayCalendars.fixed({"CN": {date(2031, 3, 3): "Pinned Day"}})
    letter = propose("letter", shanghai(2031, 3, 3, 10, 0))
    assert cn_decide(letter).allowed  # the process's calendars know nothing of 2031-03-03
    refused = decide(letter, ContactLedger(), [], CN, CN_CTX, pinned)
    assert refused.rule == "holiday.letter" and "Pinned Day" in refused.reason
    moved = earliest_allowed(letter, ContactLedger(), [], CN, CN_CTX, calendars=pinned)
    assert moved.earliest == shanghai(2031, 3, 4, 0, 0)
    day_before = propose("letter", shanghai(2031, 3, 2, 10, 0))
    assert allowed_until(day_before, [], CN, CN_CTX, calendars=pinned) == shanghai(2031, 3, 3)
    assert allowed_until(day_before, [], CN, CN_CTX) != shanghai(2031, 3, 3)
    sent = ContactRecord(channel="letter", at=shanghai(2031, 3, 3, 10, 0), result="sent")
    assert [v.rule for v in audit_ledger([sent], [], CN, CN_CTX, calendars=pinned)] == [
        "holiday.letter"
    ]
    assert audit_ledger([sent], [], CN, CN_CTX) == []
