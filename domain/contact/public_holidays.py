"""The borrower's public holidays, on which no letter is dispatched and no visit is made.

China: `chinese_calendar` knows the State Council's yearly arrangement, including the make-up
working days (调休) that fall on weekends; a day is a public holiday when it is a day off *with
a holiday name* (so an ordinary weekend is not, and a make-up working Saturday is not either).
For years it does not cover yet, the `holidays` package's CN calendar is the fallback.
Elsewhere: `holidays.country_holidays(country, subdiv=...)`.
"""

from __future__ import annotations

import threading
from datetime import date
from functools import cache

import chinese_calendar
import holidays

__all__ = ["public_holiday"]


@cache
def _table(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """One calendar object per country: it adds years as they are asked for, without reading
    its translation catalogues again (which a workflow sandbox would refuse)."""
    return holidays.country_holidays(country, subdiv=subdivision)


# A calendar object fills in a year on its first lookup, marking the year as present before
# adding its days: workflows running on several threads must not read a half-filled year.
_FILLING = threading.Lock()


def _lookup(country: str, subdivision: str | None, day: date) -> str | None:
    with _FILLING:
        name = _table(country, subdivision).get(day)
    return str(name) if name else None


@cache
def _chinese(day: date) -> str | None:
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return _lookup("CN", None, day)
    return str(name) if on_holiday and name else None


def public_holiday(day: date, country: str, subdivision: str | None = None) -> str | None:
    """The name of the public holiday on `day` in the borrower's country, or None."""
    if country == "CN":
        return _chinese(day)
    return _lookup(country, subdivision, day)


# The holidays package reads its translation catalogues when a calendar object is built; build
# the ones we ship profiles for now, outside any workflow sandbox (later years reuse them).
for _country, _subdivision in (("CN", None), ("US", None), ("US", "MA")):
    _table(_country, _subdivision).get(date(2026, 1, 1))
