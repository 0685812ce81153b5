"""The borrower's public holidays, on which no letter is dispatched and no visit is made.

Holidays are data, not a library's knowledge: one file per region and year in the policy
directory (`policy/calendars/CN/2026.yaml`), reviewed and committed, or added by an operator for
a new year without a release. China's calendar cannot be computed: the State Council publishes
each autumn which days are off and which weekends become make-up working days (调休), so a CN
year exists only once its official file does. US federal and state holidays follow statutory
rules, so their files can be written years ahead (scripts/calendar_files.py).

A year without a file is never silently treated as holiday-free. The gate then falls back to
the `holidays` package's statutory days (for CN: the legal holidays without the yearly bridging
and make-up arrangement), names the holiday as provisional in every refusal it causes, and the
worker and `/health/ready` warn while an active region lacks a file for the next 60 days.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "CALENDARS_DIR",
    "CalendarError",
    "CalendarYear",
    "HolidayCalendars",
    "active_calendars",
    "public_holiday",
    "region_of",
    "use_calendars",
]

CALENDARS_DIR = Path(__file__).resolve().parents[2] / "policy" / "calendars"


class CalendarError(ValueError):
    """A calendar file that cannot be used (unreadable, invalid, or inconsistent)."""


class CalendarYear(BaseModel):
    """One region's public holidays in one year, as its authority published them.

    `status`: `official` (the authority's yearly notice), `statutory` (fixed by law and computed
    from it), or `test` (a calendar a test names). `workdays`: weekend days that are working
    days by the arrangement (CN make-up days); they are never holidays."""

    model_config = ConfigDict(frozen=True)

    region: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    year: int = Field(ge=1900, le=2999)
    version: int = Field(ge=1)
    status: Literal["official", "statutory", "test"]
    source: str
    holidays: dict[date, str]
    workdays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _days_in_year(self) -> CalendarYear:
        for day in [*self.holidays, *self.workdays]:
            if day.year != self.year:
                raise ValueError(f"{day.isoformat()} is not in {self.year}")
        clash = set(self.holidays) & set(self.workdays)
        if clash:
            raise ValueError(f"days both holiday and workday: {sorted(clash)}")
        return self

    @property
    def content_hash(self) -> str:
        """sha256 of the days themselves, so a reference pins what was decided on."""
        lines = [f"{d.isoformat()} {n}" for d, n in sorted(self.holidays.items())]
        lines += [f"{d.isoformat()} workday" for d in sorted(self.workdays)]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def region_of(country: str, subdivision: str | None) -> str:
    """`CN`, `US`, `US-MA`: the region key of a borrower's country and subdivision."""
    return country + (f"-{subdivision}" if subdivision else "")


class HolidayCalendars:
    """The public-holiday calendars a process decides with, by region and year."""

    def __init__(self, years: Iterable[CalendarYear]) -> None:
        self._years: dict[tuple[str, int], CalendarYear] = {}
        for year in years:
            key = (year.region, year.year)
            if key in self._years:
                raise CalendarError(f"two calendars for {year.region} {year.year}")
            self._years[key] = year

    @classmethod
    def load(cls, directory: Path = CALENDARS_DIR) -> HolidayCalendars:
        """Every `REGION/YEAR.yaml` under `directory`; a bad file stops the load, naming it."""
        found: list[CalendarYear] = []
        for path in sorted(directory.glob("*/*.yaml")):
            try:
                year = CalendarYear.model_validate(yaml.safe_load(path.read_text("utf-8")))
            except (OSError, yaml.YAMLError, ValidationError) as error:
                raise CalendarError(f"{path}: not a usable calendar: {error}") from error
            if (year.region, str(year.year)) != (path.parent.name, path.stem):
                raise CalendarError(
                    f"{path}: holds {year.region} {year.year}; its path must be "
                    f"{year.region}/{year.year}.yaml"
                )
            found.append(year)
        return cls(found)

    @classmethod
    def fixed(cls, days: Mapping[str, Mapping[date, str]] | None = None) -> HolidayCalendars:
        """A test calendar: exactly the named days are holidays, in any region and year."""
        named = days or {}
        years = [
            CalendarYear(
                region=region,
                year=year,
                version=1,
                status="test",
                source="a test's own calendar",
                holidays={d: n for d, n in region_days.items() if d.year == year},
            )
            for region, region_days in named.items()
            for year in sorted({d.year for d in region_days})
        ]
        return _CompleteCalendars(years)

    def year(self, region: str, year: int) -> CalendarYear | None:
        return self._years.get((region, year))

    def regions(self) -> list[str]:
        return sorted({region for region, _ in self._years})

    def years_of(self, region: str) -> list[CalendarYear]:
        return [y for (r, _), y in sorted(self._years.items()) if r == region]

    def covers(self, region: str, year: int) -> bool:
        return (region, year) in self._years

    def holiday(self, day: date, region: str) -> str | None:
        """The holiday's name on `day` in `region`, or None."""
        known = self._years.get((region, day.year))
        if known is not None:
            return known.holidays.get(day)
        if self.covers(region, day.year):
            return None
        return _provisional(region, day)

    def uncovered(self, regions: Iterable[str], start: date, days: int) -> list[tuple[str, int]]:
        """(region, year) pairs the next `days` days from `start` need and no file gives."""
        years = sorted({(start + timedelta(days=n)).year for n in range(days + 1)})
        return [(r, y) for r in sorted(set(regions)) for y in years if not self.covers(r, y)]

    def references(self) -> list[str]:
        """`REGION/YEAR@vN#hash12` of every year held, for logs and health reports."""
        return [
            f"{y.region}/{y.year}@v{y.version}#{y.content_hash[:12]}"
            for _, y in sorted(self._years.items())
        ]


class _CompleteCalendars(HolidayCalendars):
    """A test calendar that knows every region: a year nobody named has no holidays."""

    def covers(self, region: str, year: int) -> bool:
        return True


# A `holidays` calendar object fills in a year on its first lookup, marking the year present
# before adding its days: workflows running on several threads must not read a half-filled year.
_FILLING = threading.Lock()


@cache
def _statutory_table(region: str) -> holidays.HolidayBase:
    country, _, subdivision = region.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


def _provisional(region: str, day: date) -> str | None:
    with _FILLING:
        name = _statutory_table(region).get(day)
    if not name:
        return None
    return f"{name} (provisional: no official {region} calendar for {day.year})"


_active: HolidayCalendars | None = None


def active_calendars() -> HolidayCalendars:
    """The calendars this process decides with: the repository's, unless one was installed."""
    global _active
    if _active is None:
        _active = HolidayCalendars.load()
    return _active


def use_calendars(calendars: HolidayCalendars) -> HolidayCalendars:
    """Install the calendars this process decides with (the worker, from its policy directory;
    a test, its own); returns the ones they replace."""
    global _active
    previous = active_calendars()
    _active = calendars
    return previous


def public_holiday(day: date, country: str, subdivision: str | None = None) -> str | None:
    """The name of the public holiday on `day` in the borrower's country, or None."""
    return active_calendars().holiday(day, region_of(country, subdivision))


# The holidays package reads its translation catalogues when a calendar object is built; build
# the fallbacks for the regions we ship profiles for now, outside any workflow sandbox.
for _region in ("CN", "US", "US-MA"):
    _statutory_table(_region).get(date(2026, 1, 1))
