"""An independent audit of a contact history: every breach of the rules, found by brute force.

This is deliberately *not* `decide`: it looks at each record as it happened and scans the whole
history before it (counting every record in the record's own windows) instead of asking "may
the next contact happen?", and it states the hold table, the window test, the caps, the
conversation pause and the third-party test in its own code. It shares only data with the gate:
the profile, the public-holiday calendar and the area-code zones of a number. The simulator
reports its findings as compliance violations (must be zero) and the property tests check it
against `decide`.

What it can judge depends on what it is given. Records, holds, profile and context are enough
for holds, time windows, holidays, the conversation pause, caps and third-party purposes.
Consent and dead numbers change over time and the ledger keeps only their latest state, so they
are audited only when their history is passed (`consent_changes`, `dead_since`); without
`dead_since` a third-party contact justified only by dead numbers is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Self

from pydantic import AwareDatetime, BaseModel, model_validator

from domain.account import PhoneNumber
from domain.calendar import zone
from domain.contact.context import BorrowerContext, phone_area_zones
from domain.contact.holds import Hold
from domain.contact.ledger import ContactRecord
from domain.contact.profile import Cap, ContactProfile
from domain.contact.public_holidays import HolidayCalendars, active_calendars, region_of
from domain.contact.vocabulary import ConsentChannel

__all__ = ["ConsentChange", "Violation", "audit_ledger"]


class Violation(BaseModel):
    """A record that breaks `rule`, with a sentence an auditor can check by hand."""

    rule: str
    at: AwareDatetime
    record: ContactRecord
    reason: str


class ConsentChange(BaseModel):
    """Consent for a channel (or, for SMS, one number) granted or withdrawn at `at`."""

    at: AwareDatetime
    channel: ConsentChannel
    granted: bool
    number: PhoneNumber | None = None

    @model_validator(mode="after")
    def _number_only_for_sms(self) -> Self:
        if self.number is not None and self.channel != "sms":
            raise ValueError("Consent per number is kept for SMS only.")
        return self


# What each hold still permits: the audit's own statement of holds.py's table.
_HOLD_PERMITS = {
    "bankruptcy": lambda r: False,
    "deceased": lambda r: r.party in ("guarantor", "third_party", "attorney"),
    "cease_communication": lambda r: r.channel == "letter" and r.purpose == "notice",
    "attorney": lambda r: r.party == "attorney",
    "dispute": lambda r: r.purpose in ("locate", "message", "notice"),
    "complaint": lambda r: r.purpose in ("locate", "message", "notice"),
    "grace": lambda r: r.purpose in ("locate", "message", "notice"),
}


def _day(instant: datetime, tz: str) -> date:
    return instant.astimezone(zone(tz)).date()


def _wall(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(zone(tz)):%Y-%m-%d %H:%M:%S} {tz}"


def _minute_of_day(instant: datetime, tz: str) -> float:
    local = instant.astimezone(zone(tz))
    return local.hour * 60 + local.minute + local.second / 60


def _minutes(at: time) -> float:
    return at.hour * 60 + at.minute + at.second / 60


def _counted(cap: Cap, record: ContactRecord) -> bool:
    if record.channel not in cap.channels:
        return False
    if cap.parties and record.party not in cap.parties:
        return False
    return not cap.results or record.result in cap.results


def _held(record: ContactRecord, holds: list[Hold]) -> list[tuple[str, str]]:
    found = []
    for hold in holds:
        started = hold.since <= record.at
        not_ended = hold.until is None or record.at < hold.until
        if started and not_ended and not _HOLD_PERMITS[hold.kind](record):
            found.append((f"hold.{hold.kind}", f"during a {hold.kind} hold"))
    return found


def _consent(record: ContactRecord, changes: Sequence[ConsentChange]) -> list[tuple[str, str]]:
    if record.channel not in ("sms", "voice"):
        return []
    channel_ok = True
    number_ok = True
    for change in sorted(changes, key=lambda c: c.at):
        if change.at > record.at or change.channel != record.channel:
            continue
        if change.number is None:
            channel_ok = change.granted
        elif change.number == record.target:
            number_ok = change.granted
    if channel_ok and number_ok:
        return []
    return [(f"consent.{record.channel}", f"while {record.channel} consent was withdrawn")]


def _window(
    record: ContactRecord, profile: ContactProfile, ctx: BorrowerContext
) -> list[tuple[str, str]]:
    window = profile.window
    if window is None or record.channel not in window.channels:
        return []
    zones = {ctx.timezone}
    if window.phone_area_zones and record.target is not None:
        zones |= set(phone_area_zones(record.target))
    low, high = _minutes(window.start), _minutes(window.end)
    outside = sorted(tz for tz in zones if not low <= _minute_of_day(record.at, tz) < high)
    if not outside:
        return []
    seen = ", ".join(_wall(record.at, tz) for tz in outside)
    return [(window.rule, f"outside {window.label()} local time ({seen})")]


def _unreachable_before(
    earlier: list[ContactRecord],
    at: datetime,
    holds: list[Hold],
    ctx: BorrowerContext,
    dead_since: Mapping[str, datetime],
    in_a_row: int,
) -> bool:
    if any(
        h.kind == "deceased" and h.since <= at and (h.until is None or at < h.until) for h in holds
    ):
        return True
    if all(phone in dead_since and dead_since[phone] <= at for phone in ctx.phones):
        return True
    calls = [r for r in earlier if r.channel == "call" and r.party == "borrower"]
    tail = calls[-in_a_row:]
    return len(tail) == in_a_row and all(r.result in ("unanswered", "failed") for r in tail)


def audit_ledger(
    records: list[ContactRecord],
    holds: list[Hold],
    profile: ContactProfile,
    ctx: BorrowerContext,
    *,
    dead_since: Mapping[str, datetime] | None = None,
    consent_changes: Sequence[ConsentChange] | None = None,
    calendars: HolidayCalendars | None = None,
) -> list[Violation]:
    """Every breach in a contact history, one `Violation` per record and rule broken
    (`calendars`: the public holidays the episode decided with; the process's when None)."""
    holidays = calendars or active_calendars()
    region = region_of(ctx.country, ctx.subdivision)
    ordered = sorted(records, key=lambda r: r.at)
    tz = ctx.timezone
    days = [_day(r.at, tz) for r in ordered]
    dead = dict(dead_since or {})
    found: list[Violation] = []
    for i, record in enumerate(ordered):
        earlier = ordered[:i]
        breaches = _held(record, holds)
        if consent_changes is not None:
            breaches += _consent(record, consent_changes)
        if (
            dead_since is not None
            and record.target is not None
            and record.target in dead
            and dead[record.target] <= record.at
        ):
            breaches.append(("number.dead", "to a number already recorded as dead"))
        policy = profile.third_party
        if policy is not None and record.party == "third_party":
            if record.purpose not in policy.purposes:
                breaches.append((policy.rule, f"to a third party for {record.purpose}"))
            elif policy.only_when_unreachable and not _unreachable_before(
                earlier, record.at, holds, ctx, dead, policy.failed_attempts_in_a_row
            ):
                breaches.append((policy.rule, "to a third party while the borrower was reachable"))
        if record.channel in profile.holidays.channels:
            name = holidays.holiday(days[i], region)
            if name is not None:
                breaches.append((f"holiday.{record.channel}", f"on {name} ({days[i]})"))
        breaches += _window(record, profile, ctx)
        pause = profile.after_conversation
        if pause is not None and record.channel in pause.channels and record.party in pause.parties:
            for j in range(i):
                talk = ordered[j]
                if (
                    talk.conversation
                    and talk.channel in pause.conversation_channels
                    and talk.party in pause.parties
                    and 0 <= (days[i] - days[j]).days < pause.days
                ):
                    day_number = (days[i] - days[j]).days + 1
                    breaches.append(
                        (pause.rule, f"on day {day_number} after the conversation of {days[j]}")
                    )
                    break
        for cap in profile.caps:
            if not _counted(cap, record):
                continue
            in_window = 0
            for j in range(i + 1):
                other = ordered[j]
                if not _counted(cap, other):
                    continue
                if cap.per == "number" and other.target != record.target:
                    continue
                if 0 <= (days[i] - days[j]).days < cap.days:
                    in_window += 1
            if in_window > cap.max:
                breaches.append(
                    (cap.rule, f"contact number {in_window} where {cap.what()} ({days[i]})")
                )
        for rule, why in breaches:
            found.append(
                Violation(
                    rule=rule,
                    at=record.at,
                    record=record,
                    reason=(
                        f"{rule}: {record.channel} to the {record.party} at "
                        f"{_wall(record.at, tz)} {why}."
                    ),
                )
            )
    return found
