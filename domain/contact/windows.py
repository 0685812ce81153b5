"""Local wall-clock windows across one or several time zones.

An instant is inside a window when, in every zone, its local wall-clock time is in
[start, end). The earliest instant at or after `at` that is inside is either `at` or the
opening of the window in one of the zones (the left end of an intersection of intervals is one
of their left ends), so a short list of candidates is enough, and DST days need no special case:
`local_instant` resolves each zone's opening on its own calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from domain.calendar import local_date, local_instant, zone

__all__ = ["first_inside", "inside", "window_close_after"]

_SEARCH_DAYS = 8


def seconds_of_day(instant: datetime, tz: str) -> int:
    """Seconds since local midnight on the wall clock of `tz` (microseconds dropped)."""
    local = instant.astimezone(zone(tz))
    return local.hour * 3600 + local.minute * 60 + local.second


def _seconds(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def inside(instant: datetime, start: time, end: time, zones: list[str]) -> bool:
    """Whether the local time is in [start, end) in every zone.

    A local time of 20:59:59.5 counts as inside a window ending at 21:00 (sub-second precision
    is below what a dialler or a regulator measures)."""
    low, high = _seconds(start), _seconds(end)
    return all(low <= seconds_of_day(instant, tz) < high for tz in zones)


def first_inside(at: datetime, start: time, end: time, zones: list[str]) -> datetime | None:
    """The earliest instant at or after `at` inside the window in every zone, or None when the
    zones' windows never overlap (e.g. an address and an area code twelve hours apart)."""
    if inside(at, start, end, zones):
        return at
    candidates: set[datetime] = set()
    for tz in zones:
        first_day = local_date(at, tz) - timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            opening = local_instant(first_day + timedelta(days=offset), start, tz)
            if opening > at:
                candidates.add(opening)
    for candidate in sorted(candidates):
        if inside(candidate, start, end, zones):
            return candidate
    return None


def window_close_after(at: datetime, start: time, end: time, zones: list[str]) -> datetime:
    """The first instant after `at` at which the window [start, end) closes in any of `zones`;
    `at` itself when it is not inside the window in every zone.

    A task whose window starts at `at` may run until then and no later: a collector can work it
    at any instant of its window, so the whole window, not its first instant, must be allowed.
    Each zone's closing is resolved on its own calendar, so a DST day needs no special case."""
    if not inside(at, start, end, zones):
        return at
    closings = [local_instant(local_date(at, tz), end, tz).astimezone(UTC) for tz in zones]
    return min(c for c in closings if c > at)


def next_local_day_start(day: date, tz: str) -> datetime:
    """The instant the local day after `day` begins (UTC)."""
    return local_instant(day + timedelta(days=1), time(0, 0), tz).astimezone(UTC)


def local_clock(instant: datetime, tz: str) -> str:
    """`2026-06-01 21:59:59 (Asia/Shanghai)`: how a reason shows the time it saw."""
    return f"{instant.astimezone(zone(tz)):%Y-%m-%d %H:%M:%S} ({tz})"
