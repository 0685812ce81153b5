"""Which active regions lack a public-holiday calendar soon: operators must add the file before
the gate has to fall back to statutory days only."""

from __future__ import annotations

from datetime import date

from domain.contact.profile import known_jurisdictions
from domain.contact.public_holidays import HolidayCalendars, region_of

__all__ = ["CALENDAR_LOOKAHEAD_DAYS", "active_regions", "calendar_gaps"]

# How far ahead every active region must have a calendar file before operators are warned.
CALENDAR_LOOKAHEAD_DAYS = 60


def active_regions() -> list[str]:
    """The holiday regions of every jurisdiction a shipped contact profile serves."""
    regions = set()
    for jurisdiction in known_jurisdictions():
        country, _, subdivision = jurisdiction.partition("-")
        regions.add(region_of(country, subdivision or None))
    return sorted(regions)


def calendar_gaps(
    calendars: HolidayCalendars, today: date, days: int = CALENDAR_LOOKAHEAD_DAYS
) -> list[str]:
    """`REGION YEAR` for each active region without a calendar file in the `days` after
    `today`."""
    return [f"{r} {y}" for r, y in calendars.uncovered(active_regions(), today, days)]
