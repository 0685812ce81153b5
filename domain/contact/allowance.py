"""How much of each frequency cap a proposed contact has used: the "attempts left" a collector
sees beside the gate's answer (issue 15).

The count is the gate's own (`decide._counted_days`, the same records, the same local days, an
open task's pending attempt counted as the gate counts it), so the number shown can never
disagree with the refusal the gate would give: this module only reads it out per cap instead of
stopping at the first cap that refuses. Pure, like the rest of `domain.contact`.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from domain.contact.context import BorrowerContext
from domain.contact.decide import ProposedContact, _Case, _counted_days
from domain.contact.holds import Hold
from domain.contact.ledger import ContactLedger
from domain.contact.profile import ContactProfile
from domain.contact.public_holidays import HolidayCalendars

__all__ = ["CapUsage", "cap_usage"]


class CapUsage(BaseModel):
    """One cap of the profile as it stands for a proposal: `used` of `max` in the `days`
    consecutive local days ending on `last_day` (`days == 1`: today), `left` before it refuses."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rule": "us_regf.seven_in_seven",
                    "what": "at most 7 call/voice contacts per 7 consecutive local days",
                    "max": 7,
                    "days": 7,
                    "per": "account",
                    "used": 2,
                    "left": 5,
                    "first_day": "2026-11-28",
                    "last_day": "2026-12-04",
                }
            ]
        }
    )

    rule: str
    what: str
    max: int
    days: int
    per: str
    used: int
    left: int
    first_day: date
    last_day: date


def cap_usage(
    proposed: ProposedContact,
    ledger: ContactLedger,
    holds: list[Hold],
    profile: ContactProfile,
    ctx: BorrowerContext,
    calendars: HolidayCalendars | None = None,
) -> list[CapUsage]:
    """Every cap of `profile` that applies to `proposed` (channel and party; a per-number cap
    only when the proposal names a number), in the profile's order, counted at `proposed.at`."""
    case = _Case(proposed, ledger, holds, profile, ctx, calendars)
    usages = []
    for cap in profile.caps:
        if not cap.applies_to(proposed.channel, proposed.party):
            continue
        if cap.per == "number" and proposed.target is None:
            continue
        used = len(_counted_days(cap, case))
        usages.append(
            CapUsage(
                rule=cap.rule,
                what=cap.what(),
                max=cap.max,
                days=cap.days,
                per=cap.per,
                used=used,
                left=max(0, cap.max - used),
                first_day=case.day - timedelta(days=cap.days - 1),
                last_day=case.day,
            )
        )
    return usages
