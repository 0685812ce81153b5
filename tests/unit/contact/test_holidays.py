"""Public holidays: no letters and no field visits on the borrower's public holidays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import chinese_calendar
import pytest

from domain.contact import public_holiday
from domain.contact.public_holidays import _chinese

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
    """Both halves depend on the State Council's arrangement, not on the weekday: Sunday
    2026-10-04 is a day off of the National Day holiday (the `holidays` package alone does not
    list it), and Saturday 2026-10-10 is a working day that carries the holiday's name in
    chinese_calendar (调休), which must not be read as a holiday."""
    golden_sunday, make_up_saturday = date(2026, 10, 4), date(2026, 10, 10)
    assert (golden_sunday.weekday(), make_up_saturday.weekday()) == (6, 5)
    assert chinese_calendar.get_holiday_detail(golden_sunday) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(make_up_saturday) == (False, "National Day")

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
def chinese_calendar_without_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def not_covered(day: date) -> tuple[bool, str | None]:
        raise NotImplementedError(f"no available data for year {day.year}")

    monkeypatch.setattr(chinese_calendar, "get_holiday_detail", not_covered)
    _chinese.cache_clear()
    yield
    _chinese.cache_clear()


@pytest.mark.usefixtures("chinese_calendar_without_data")
def test_holiday_cn_falls_back_to_the_holidays_package_for_uncovered_years() -> None:
    assert public_holiday(date(2026, 10, 1), "CN") == "National Day"
    assert public_holiday(date(2026, 10, 12), "CN") is None


def test_holiday_cn_years_beyond_chinese_calendar_still_have_national_day() -> None:
    assert public_holiday(date(2027, 10, 1), "CN") is not None


def test_holiday_cn_2027_falls_back_to_the_statutory_days_of_the_holidays_package() -> None:
    """chinese-calendar 1.11.0 (the latest release) stops at 2026, so 2027 decisions use the
    `holidays` package: the statutory days still refuse letters and visits, but the State
    Council's weekend days off and make-up working days are unknown until a release covers the
    year (then this test fails on purpose: drop the fallback note and use the new data)."""
    with pytest.raises(NotImplementedError):
        chinese_calendar.get_holiday_detail(date(2027, 10, 1))
    national_day = cn_decide(propose("letter", shanghai(2027, 10, 1, 10, 0)))
    assert national_day.rule == "holiday.letter"
    assert "National Day" in national_day.reason
    spring = cn_decide(propose("field_visit", shanghai(2027, 2, 6, 10, 0)))
    assert spring.rule == "holiday.field_visit"
    assert cn_decide(propose("letter", shanghai(2027, 1, 1, 10, 0))).rule == "holiday.letter"
    # What the fallback cannot know: an ordinary weekend stays a day letters may go out.
    assert date(2027, 10, 9).weekday() == 5
    assert cn_decide(propose("letter", shanghai(2027, 10, 9, 10, 0))).allowed


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
