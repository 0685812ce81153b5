"""The public-holiday calendars a worker decides with, loaded from the policy directory at start,
and the warning an operator needs weeks before a region's calendar runs out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from domain.contact import HolidayCalendars, use_calendars
from domain.contact.coverage import CALENDAR_LOOKAHEAD_DAYS, calendar_gaps

log = logging.getLogger(__name__)


def install_calendars(calendars_dir: Path) -> HolidayCalendars:
    """Load the calendar files, make them the process's, and warn loudly about any gap (an
    operations check on the wall clock's date; no business decision depends on it)."""
    calendars = HolidayCalendars.load(calendars_dir)
    use_calendars(calendars)
    log.info("public-holiday calendars: %s", ", ".join(calendars.references()))
    for gap in calendar_gaps(calendars, datetime.now(UTC).date()):
        log.warning(
            "NO PUBLIC-HOLIDAY CALENDAR for %s in the next %d days: letters and visits there are "
            "gated by the statutory holidays only (no official arrangement, no make-up working "
            "days). Add %s/%s.yaml from the authority's notice.",
            gap,
            CALENDAR_LOOKAHEAD_DAYS,
            calendars_dir,
            gap.replace(" ", "/"),
        )
    return calendars
