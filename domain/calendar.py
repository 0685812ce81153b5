"""Business time: the collection day is the borrower's local day.

Every function takes the instant or date it reasons about as an argument, because business time
comes from the workflow clock (real, test or simulated), never from the machine's clock.
"""

from __future__ import annotations

import calendar as _stdcal
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "add_months",
    "date_at_dpd",
    "days_past_due",
    "local_date",
    "local_instant",
    "start_of_local_day",
    "validate_timezone",
    "zone",
]


@cache
def zone(tz: str) -> ZoneInfo:
    """Resolve an IANA zone name once; tzdata is a dependency so this works on any host."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"The time zone {tz!r} is not a known IANA time zone such as Asia/Shanghai."
        ) from None


def validate_timezone(tz: str) -> str:
    """Reject unknown zones at the edge so a bad name cannot fail a workflow months later."""
    zone(tz)
    return tz


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("The instant must carry a time zone offset (an aware datetime).")


def local_date(instant: datetime, tz: str) -> date:
    """The borrower's calendar date at an instant: DPD and deadlines are counted in it."""
    _require_aware(instant)
    return instant.astimezone(zone(tz)).date()


def local_instant(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a local wall-clock time, so timers can be set in absolute time.

    Wall times that do not exist (the spring-forward gap) resolve to the same distance past the
    transition, e.g. 02:30 on a New York spring-forward day is 03:30 EDT; wall times that occur
    twice (the autumn fold) resolve to the first occurrence, so nothing is ever scheduled later
    than the borrower would expect.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone(tz)).astimezone(UTC)


def start_of_local_day(day: date, tz: str) -> datetime:
    """The instant a local day begins; DPD moves on by one at this moment."""
    return local_instant(day, time(0, 0), tz)


def days_past_due(oldest_unpaid_due: date | None, today: date) -> int:
    """Whole days since the oldest unpaid due date: 0 on the due date itself, 1 the day after."""
    if oldest_unpaid_due is None:
        return 0
    return max(0, (today - oldest_unpaid_due).days)


def date_at_dpd(due_date: date, dpd: int) -> date:
    """The local date an instalment reaches a DPD (dpd -1 is the day before it falls due)."""
    return due_date + timedelta(days=dpd)


def add_months(day: date, months: int) -> date:
    """Calendar-month arithmetic clamping the day of month (31 March - 1 month = 28/29 February)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = _stdcal.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))
