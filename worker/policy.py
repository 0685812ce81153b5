"""The policy a worker serves: loaded from ARREARS_POLICY_DIR at start, checked against what the
deployment has served before, and installed for the workflows; plus the loud warning an operator
needs weeks before a region's public-holiday calendar runs out."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from core.settings import Settings
from domain.contact import HolidayCalendars, use_calendars
from domain.contact.coverage import CALENDAR_LOOKAHEAD_DAYS, calendar_gaps
from domain.policy import PolicyError, PolicyRegistry, install_registry
from store.policy_versions import remember_policy_versions

log = logging.getLogger(__name__)


class PolicyRefused(RuntimeError):
    """The worker must not start with this policy directory; the message says which file."""


def load_policy(settings: Settings, *, today: date | None = None) -> PolicyRegistry:
    """Load, check and install the policy directory (call after the store is migrated).
    `today` is the date the calendar check looks ahead from (the wall clock's when not given;
    tests pin it)."""
    try:
        registry = PolicyRegistry.load(settings.policy_dir)
    except PolicyError as error:
        raise PolicyRefused(f"policy directory {settings.policy_dir}: {error}") from error
    refs = registry.references()
    conflicts = remember_policy_versions(
        settings.effective_database_url, refs, {ref: registry.source_of(ref) for ref in refs}
    )
    if conflicts:
        raise PolicyRefused(
            "refusing to start: a policy file changed without a new version: "
            + "; ".join(conflicts)
        )
    install_registry(registry)
    calendars = registry.calendars(ref for ref in refs if ref.kind == "calendar")
    use_calendars(calendars)
    log.info("policy %s: %s", settings.policy_dir, ", ".join(r.label() for r in refs))
    _warn_about_calendar_gaps(settings, calendars, today or datetime.now(UTC).date())
    return registry


def _warn_about_calendar_gaps(settings: Settings, calendars: HolidayCalendars, today: date) -> None:
    """An operations check on the wall clock's date; no business decision depends on it."""
    for gap in calendar_gaps(calendars, today):
        log.warning(
            "NO PUBLIC-HOLIDAY CALENDAR for %s in the next %d days: letters and visits there are "
            "gated by the statutory holidays only (no official arrangement, no make-up working "
            "days). Add %s/%s.yaml from the authority's notice.",
            gap,
            CALENDAR_LOOKAHEAD_DAYS,
            settings.calendars_dir,
            gap.replace(" ", "/"),
        )
