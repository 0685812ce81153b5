"""The compliance gate: one function decides whether a proposed contact may happen now.

`decide` checks, in this order, and answers with the first rule that refuses:

1. holds (`hold.<kind>`): bankruptcy first (it beats everything), then deceased,
   cease_communication, attorney, dispute, complaint, grace;
2. consent (`consent.sms`, `consent.voice`), dead numbers (`number.dead`) and numbers that take
   no texts (`number.no_sms`);
3. party rules (the profile's third-party rule, e.g. `cn.third_party_only_when_unreachable`);
4. public holidays (`holiday.letter`, `holiday.field_visit`);
5. the time window (e.g. `cn.quiet_hours`, `us_regf.call_window`);
6. the pause after a telephone conversation (`us_regf.after_conversation`);
7. frequency caps, in the profile's order (e.g. `us_regf.seven_in_seven`, `us_ma.two_in_seven`,
   `cn.connected_calls_per_day`, `cn.unanswered_per_number_per_day`).

A refusal carries `earliest`: the first instant at which the refusing rule stops refusing (moved
into the time window when the channel has one), or None when only a change of facts can allow
the contact (a hold without end, withdrawn consent, a dead number or one that takes no texts,
the third-party rule). Every
`earliest` is a lower bound of the next allowed instant, so `earliest_allowed`, which re-decides
at it until allowed, finds the first allowed instant.

Caps and the conversation pause count local calendar days in the borrower's address zone
("7 consecutive days" = the proposal's local day and the 6 before it), as Regulation F's
commentary counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from domain.account import PhoneNumber
from domain.calendar import local_date
from domain.contact.context import BorrowerContext, zones_for_contact
from domain.contact.holds import HOLD_PRIORITY, Hold, active_holds, hold_forbids
from domain.contact.ledger import ContactLedger, check_target
from domain.contact.profile import Cap, ContactProfile
from domain.contact.public_holidays import HolidayCalendars, active_calendars, region_of
from domain.contact.vocabulary import Channel, Party, Purpose
from domain.contact.windows import (
    first_inside,
    inside,
    local_clock,
    next_local_day_start,
    window_close_after,
)

__all__ = ["Decision", "ProposedContact", "allowed_until", "decide", "earliest_allowed"]

_HOLIDAY_SEARCH_DAYS = 40
_MAX_STEPS = 400


class ProposedContact(BaseModel):
    """A contact the workflow wants to make at `at` (an aware instant)."""

    channel: Channel
    at: AwareDatetime
    party: Party = "borrower"
    target: PhoneNumber | None = None
    purpose: Purpose = "collect"

    @model_validator(mode="after")
    def _target_fits_channel(self) -> Self:
        check_target(self.channel, self.target)
        return self


class Decision(BaseModel):
    """`allowed`, or refused by `rule` (a stable dotted name) for `reason` (a sentence for
    auditors). `earliest`: when this contact would be allowed if nothing else happens (the
    proposal's own instant when allowed; None when only a change of facts can allow it).
    `requirements`: obligations of an allowed contact (`opt_out_text`, `agents`,
    `mention_debt`) and, from `earliest_allowed` after a refusal, `blocked_by` (the first
    refusing rule) and `blocked_chain` (every refusing rule met, in order)."""

    allowed: bool
    rule: str | None = None
    reason: str
    earliest: AwareDatetime | None = None
    requirements: dict[str, object] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Case:
    proposed: ProposedContact
    ledger: ContactLedger
    holds: list[Hold]
    profile: ContactProfile
    ctx: BorrowerContext
    calendars: HolidayCalendars | None = None

    def holiday(self, day: date) -> str | None:
        """The borrower's public holiday on `day` in the episode's pinned calendars (the
        process's when none are given)."""
        calendars = self.calendars or active_calendars()
        return calendars.holiday(day, region_of(self.ctx.country, self.ctx.subdivision))

    @property
    def at(self) -> datetime:
        return self.proposed.at

    @property
    def tz(self) -> str:
        return self.ctx.timezone

    @property
    def day(self) -> date:
        return local_date(self.proposed.at, self.ctx.timezone)

    def window_zones(self) -> list[str]:
        window = self.profile.window
        use_phone = window is not None and window.phone_area_zones
        return zones_for_contact(self.ctx, self.proposed.target if use_phone else None)

    def windowed(self) -> bool:
        window = self.profile.window
        return window is not None and self.proposed.channel in window.channels

    def settle(self, instant: datetime | None) -> datetime | None:
        """Move a candidate instant into the channel's time window (if it has one)."""
        window = self.profile.window
        if instant is None or window is None or not self.windowed():
            return instant
        return first_inside(instant, window.start, window.end, self.window_zones())

    def day_start(self, day: date) -> datetime:
        return next_local_day_start(day - timedelta(days=1), self.tz)

    def clock(self) -> str:
        return local_clock(self.at, self.tz)


def _refuse(rule: str, reason: str, earliest: datetime | None) -> Decision:
    if earliest is not None:
        earliest = earliest.astimezone(UTC)
    return Decision(allowed=False, rule=rule, reason=reason, earliest=earliest)


def _until_text(hold: Hold, tz: str) -> str:
    return "with no end" if hold.until is None else f"until {local_clock(hold.until, tz)}"


# --------------------------------------------------------------------------------- 1. holds


def _check_holds(case: _Case) -> Decision | None:
    p = case.proposed
    blocking = [
        hold
        for hold in active_holds(case.holds, case.at)
        if hold_forbids(hold.kind, p.channel, p.party, p.purpose)
    ]
    if not blocking:
        return None
    blocking.sort(key=lambda hold: HOLD_PRIORITY.index(hold.kind))
    first = blocking[0]
    ends = [hold.until for hold in blocking]
    earliest = None if any(end is None for end in ends) else max(e for e in ends if e)
    others = ""
    if len(blocking) > 1:
        others = " Also holding: " + ", ".join(sorted({h.kind for h in blocking[1:]})) + "."
    reason = (
        f"hold.{first.kind}: {first.effect()}; a {p.channel} ({p.purpose}) to the {p.party} at "
        f"{case.clock()} falls in the {first.kind} hold since {local_clock(first.since, case.tz)} "
        f"{_until_text(first, case.tz)}.{others}"
    )
    return _refuse(f"hold.{first.kind}", reason, earliest)


# ------------------------------------------------------------------- 2. consent, dead numbers


def _check_consent(case: _Case) -> Decision | None:
    p, ledger = case.proposed, case.ledger
    if p.channel == "sms" and p.target is not None:
        if not ledger.consent_given("sms"):
            return _refuse(
                "consent.sms",
                "consent.sms: the borrower has withdrawn consent to SMS; no text may be sent "
                "until consent is given again.",
                None,
            )
        if p.target in ledger.revoked_numbers_sms:
            return _refuse(
                "consent.sms",
                "consent.sms: the number texted replied STOP (or a collector recorded an "
                "opt-out for it); no text may be sent to it until it opts in again.",
                None,
            )
    if p.channel == "voice" and not ledger.consent_given("voice"):
        return _refuse(
            "consent.voice",
            "consent.voice: the borrower has withdrawn consent to automated voice messages; "
            "collector calls are not affected.",
            None,
        )
    return None


def _check_dead_number(case: _Case) -> Decision | None:
    target = case.proposed.target
    if target is not None and target in case.ledger.dead_numbers:
        return _refuse(
            "number.dead",
            f"number.dead: the {case.proposed.channel} target is recorded as a dead number; "
            "use another number or confirm this one works again.",
            None,
        )
    return None


def _check_sms_capable(case: _Case) -> Decision | None:
    p = case.proposed
    if p.channel == "sms" and p.target is not None and p.target in case.ledger.no_sms_numbers:
        return _refuse(
            "number.no_sms",
            "number.no_sms: the number cannot receive SMS (the provider said so, or texts to it "
            "kept failing); text another mobile, or call it: calls are not affected.",
            None,
        )
    return None


# ---------------------------------------------------------------------------- 3. parties


def _check_third_party(case: _Case) -> Decision | None:
    policy, p = case.profile.third_party, case.proposed
    if policy is None or p.party != "third_party":
        return None
    if p.purpose not in policy.purposes:
        allowed = " or ".join(policy.purposes)
        return _refuse(
            policy.rule,
            f"{policy.rule}: a third party (not liable for the debt) may be contacted only to "
            f"{allowed}, not for {p.purpose}.",
            None,
        )
    if not policy.only_when_unreachable:
        return None
    deceased = any(h.kind == "deceased" for h in active_holds(case.holds, case.at))
    failed = case.ledger.consecutive_failed_attempts()
    unreachable = deceased or case.ledger.borrower_unreachable(
        list(case.ctx.phones), policy.failed_attempts_in_a_row
    )
    if unreachable:
        return None
    dead = sum(1 for phone in case.ctx.phones if phone in case.ledger.dead_numbers)
    return _refuse(
        policy.rule,
        f"{policy.rule}: third parties may be contacted only when the borrower is unreachable; "
        f"{dead} of {len(case.ctx.phones)} borrower numbers are dead and the last "
        f"{failed} call(s) failed in a row (unreachable after "
        f"{policy.failed_attempts_in_a_row}).",
        None,
    )


# --------------------------------------------------------------------------- 4. holidays


def _check_holiday(case: _Case) -> Decision | None:
    channel = case.proposed.channel
    if channel not in case.profile.holidays.channels:
        return None
    name = case.holiday(case.day)
    if name is None:
        return None
    earliest: datetime | None = None
    for offset in range(1, _HOLIDAY_SEARCH_DAYS + 1):
        day = case.day + timedelta(days=offset)
        if case.holiday(day) is None:
            earliest = case.settle(case.day_start(day))
            break
    rule = f"holiday.{channel}"
    where = case.ctx.country + (f"-{case.ctx.subdivision}" if case.ctx.subdivision else "")
    return _refuse(
        rule,
        f"{rule}: no {channel.replace('_', ' ')} on the borrower's public holidays; "
        f"{case.day.isoformat()} is {name} in {where} (local time {case.clock()}).",
        earliest,
    )


# ------------------------------------------------------------------------ 5. time window


def _check_window(case: _Case) -> Decision | None:
    window = case.profile.window
    if window is None or not case.windowed():
        return None
    zones = case.window_zones()
    if inside(case.at, window.start, window.end, zones):
        return None
    seen = "; ".join(local_clock(case.at, tz) for tz in zones)
    earliest = first_inside(case.at, window.start, window.end, zones)
    never = "" if earliest is not None else " The windows of these zones never overlap."
    return _refuse(
        window.rule,
        f"{window.rule}: {case.proposed.channel} only {window.label()} local time in every zone "
        f"the borrower may be in; it is {seen}.{never}",
        earliest,
    )


# ------------------------------------------------------------- 6. pause after conversation


def _check_after_conversation(case: _Case) -> Decision | None:
    rule, p = case.profile.after_conversation, case.proposed
    if rule is None or p.channel not in rule.channels or p.party not in rule.parties:
        return None
    blocking = [
        day
        for record in case.ledger.records
        if record.conversation
        and record.channel in rule.conversation_channels
        and record.party in rule.parties
        and (day := local_date(record.at, case.tz)) <= case.day < day + timedelta(days=rule.days)
    ]
    if not blocking:
        return None
    last = max(blocking)
    day_number = (case.day - last).days + 1
    reopen = last + timedelta(days=rule.days)
    return _refuse(
        rule.rule,
        f"{rule.rule}: no {'/'.join(rule.channels)} for {rule.days} days after a telephone "
        f"conversation; the last one was on {last.isoformat()} and {case.clock()} is day "
        f"{day_number} (calls allowed again from {reopen.isoformat()}).",
        case.settle(case.day_start(reopen)),
    )


# ------------------------------------------------------------------------------ 7. caps


def _counted_days(cap: Cap, case: _Case, on: date | None = None) -> list[date]:
    """The local days of the contacts `cap` counts against a proposal on day `on` (the
    proposal's day by default): those of the `days` consecutive days ending on it.

    An open task's pending attempt counts whatever its result will be, and also when it lies
    ahead, within `days` days: the task may be worked then, and a window of `days` days would
    hold both contacts."""
    p = case.proposed
    day_of_proposal = on or case.day
    first_day = day_of_proposal - timedelta(days=cap.days - 1)
    days = []
    for record in case.ledger.records:
        pending = record.pending_task is not None
        result = cap.results[0] if pending and cap.results else record.result
        if not cap.counts(record.channel, record.party, result):
            continue
        if cap.per == "number" and record.target != p.target:
            continue
        day = local_date(record.at, case.tz)
        last_day = day_of_proposal + timedelta(days=cap.days - 1) if pending else day_of_proposal
        if first_day <= day <= last_day:
            days.append(day)
    return sorted(days, reverse=True)


def _reopen_day(cap: Cap, case: _Case, days: list[date]) -> date:
    """The first local day after the proposal's on which `cap` counts fewer than `max`."""
    if all(day <= case.day for day in days):
        # The window slides a day at a time; it holds fewer than `max` once the max-th most
        # recent counted contact has left it.
        return days[cap.max - 1] + timedelta(days=cap.days)
    day = case.day + timedelta(days=1)
    while len(_counted_days(cap, case, on=day)) >= cap.max:
        day += timedelta(days=1)
    return day


def _check_cap(cap: Cap, case: _Case) -> Decision | None:
    p = case.proposed
    if not cap.applies_to(p.channel, p.party) or (cap.per == "number" and p.target is None):
        return None
    days = _counted_days(cap, case)
    if len(days) < cap.max:
        return None
    reopen = _reopen_day(cap, case, days)
    period = (
        f"on {case.day.isoformat()}"
        if cap.days == 1
        else f"from {(case.day - timedelta(days=cap.days - 1)).isoformat()} to "
        f"{case.day.isoformat()}"
    )
    return _refuse(
        cap.rule,
        f"{cap.rule}: {cap.what()}; {len(days)} already {period} ({case.tz}), local time "
        f"{case.clock()}.",
        case.settle(case.day_start(reopen)),
    )


def _check_caps(case: _Case) -> Decision | None:
    for cap in case.profile.caps:
        refusal = _check_cap(cap, case)
        if refusal is not None:
            return refusal
    return None


_CHECKS = (
    _check_holds,
    _check_consent,
    _check_dead_number,
    _check_sms_capable,
    _check_third_party,
    _check_holiday,
    _check_window,
    _check_after_conversation,
    _check_caps,
)


def _requirements(case: _Case) -> dict[str, Any]:
    p, profile = case.proposed, case.profile
    needs: dict[str, Any] = {}
    if p.channel == "sms" and profile.sms_opt_out_text:
        needs["opt_out_text"] = profile.sms_opt_out_text
    if p.channel == "field_visit" and profile.field_visit_agents:
        needs["agents"] = profile.field_visit_agents
    if p.party == "third_party" and profile.third_party is not None:
        needs["mention_debt"] = profile.third_party.mention_debt
    return needs


def decide(
    proposed: ProposedContact,
    ledger: ContactLedger,
    holds: list[Hold],
    profile: ContactProfile,
    ctx: BorrowerContext,
    calendars: HolidayCalendars | None = None,
) -> Decision:
    """Whether `proposed` may happen at `proposed.at`; see the module docstring for the order.

    `ledger` holds the contacts made so far (all before `proposed.at`); `calendars` are the
    episode's pinned public holidays (the process's when None)."""
    case = _Case(proposed, ledger, holds, profile, ctx, calendars)
    for check in _CHECKS:
        refusal = check(case)
        if refusal is not None:
            return refusal
    return Decision(
        allowed=True,
        reason=(
            f"Allowed under profile {profile.name}: {proposed.channel} ({proposed.purpose}) to "
            f"the {proposed.party} at {case.clock()}."
        ),
        earliest=proposed.at,
        requirements=_requirements(case),
    )


def earliest_allowed(
    proposed: ProposedContact,
    ledger: ContactLedger,
    holds: list[Hold],
    profile: ContactProfile,
    ctx: BorrowerContext,
    horizon_days: int = 60,
    calendars: HolidayCalendars | None = None,
) -> Decision:
    """The first instant at or after `proposed.at` (within `horizon_days`) at which `decide`
    allows the contact, assuming nothing else happens meanwhile.

    Allowed: `earliest` is the instant to act (`proposed.at` when allowed at once). Otherwise
    the final refusal with `earliest` None: a rule only a change of facts can lift, or no
    allowed instant within the horizon (`requirements["not_before"]` then says when the search
    stopped). After any refusal, `requirements["blocked_by"]` names the first refusing rule and
    `requirements["blocked_chain"]` every rule met on the way, in order.
    """
    limit = proposed.at + timedelta(days=horizon_days)
    refusals: list[Decision] = []
    current = proposed
    for _ in range(_MAX_STEPS):
        decision = decide(current, ledger, holds, profile, ctx, calendars)
        if decision.allowed:
            if not refusals:
                return decision
            when = local_clock(current.at, ctx.timezone)
            return decision.model_copy(
                update={
                    "earliest": current.at,
                    "reason": f"{_story(refusals)} Earliest allowed: {when}.",
                    "requirements": {**decision.requirements, **_blocked(refusals)},
                }
            )
        refusals.append(decision)
        following = decision.earliest
        if following is None or following <= current.at:
            return _final(refusals, {})
        if following > limit:
            note = f" No allowed instant within {horizon_days} days."
            return _final(refusals, {"not_before": following.isoformat()}, note)
        current = current.model_copy(update={"at": following})
    return _final(refusals, {}, " The search for an allowed instant gave up.")


def _blocked(refusals: list[Decision]) -> dict[str, object]:
    chain: list[str] = []
    for refusal in refusals:
        if refusal.rule is not None and refusal.rule not in chain:
            chain.append(refusal.rule)
    return {"blocked_by": refusals[0].rule, "blocked_chain": chain}


def _story(refusals: list[Decision]) -> str:
    later = [r.rule for r in refusals[1:] if r.rule is not None and r.rule != refusals[0].rule]
    then = f" Then held back by {', '.join(dict.fromkeys(later))}." if later else ""
    return refusals[0].reason + then


def _final(refusals: list[Decision], extra: dict[str, object], note: str = "") -> Decision:
    first, last = refusals[0], refusals[-1]
    reason = first.reason if first is last else f"{_story(refusals[:-1])} Finally: {last.reason}"
    return Decision(
        allowed=False,
        rule=last.rule,
        reason=reason + note,
        earliest=None,
        requirements={**_blocked(refusals), **extra},
    )


def allowed_until(
    proposed: ProposedContact,
    holds: list[Hold],
    profile: ContactProfile,
    ctx: BorrowerContext,
    horizon_days: int = 60,
    calendars: HolidayCalendars | None = None,
) -> datetime | None:
    """How long a contact allowed at `proposed.at` stays allowed as time passes: the first
    instant after it at which the channel's time window closes in any zone the borrower may be
    in, a public holiday of the channel begins, or a known hold that forbids it begins. None
    when nothing ends it within `horizon_days`.

    A task for a person is allowed only if every instant of its window is (a collector works it
    whenever it suits them), so the workflow cuts `not_after` here. Caps and the pause after a
    conversation only lift as time passes, so they never end an allowed period early."""
    case = _Case(proposed, ContactLedger(), holds, profile, ctx, calendars)
    ends: list[datetime] = []
    window = profile.window
    if window is not None and case.windowed():
        ends.append(window_close_after(case.at, window.start, window.end, case.window_zones()))
    if proposed.channel in profile.holidays.channels:
        for offset in range(1, horizon_days + 1):
            day = case.day + timedelta(days=offset)
            if case.holiday(day) is not None:
                ends.append(case.day_start(day))
                break
    p = proposed
    ends.extend(
        hold.since
        for hold in holds
        if hold.since > p.at and hold_forbids(hold.kind, p.channel, p.party, p.purpose)
    )
    later = [end.astimezone(UTC) for end in ends if end >= p.at]
    return min(later) if later else None
