"""The `compliance` query's answer: what the compliance gate allows next on each channel, and
why (issue 15). A decision module: no Temporal, the instant is the caller's.

Each channel is put to `domain.contact.earliest_allowed` exactly as `gate.fire_step` puts a
contact to it now (the same target choice, the attorney under an attorney hold, the episode's
ledger, holds, pinned profile and calendars), and the caps are counted by the gate's own count
(`domain.contact.allowance`). Nothing here decides anything the gate does not.
"""

from __future__ import annotations

from datetime import datetime

from domain.calendar import zone
from domain.contact import ContactLedger, ProposedContact, earliest_allowed
from domain.contact.allowance import cap_usage
from domain.contact.vocabulary import CHANNELS
from workflows.account.branches import rotate_call_target
from workflows.account.contacts import choose_target
from workflows.account.episode import Episode
from workflows.contracts.compliance import ChannelCompliance, ComplianceStatus

NONE_REACHABLE = "number.none_reachable"
"""The gate's refusal when a phone channel has no live number (`gate.fire_step`)."""


def _local(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(zone(tz)):%Y-%m-%d %H:%M}"


def _target(ep: Episode, now: datetime, channel: str) -> tuple[str | None, str]:
    """The number and party a contact on `channel` would go to now, as `gate.fire_step`
    chooses them: a represented borrower's calls go to their attorney."""
    ledger = ep.s.ledger or ContactLedger()
    if channel == "call":
        attorney = ep.attorney_phone(now)
        if attorney is not None:
            return attorney, "attorney"
    if channel in ("call", "voice"):
        return rotate_call_target(ep.s.account, ledger), "borrower"
    return choose_target(ep.s.account, ledger, channel), "borrower"


def channel_compliance(ep: Episode, now: datetime, channel: str) -> ChannelCompliance:
    """The gate's answer for one channel at `now`."""
    tz = ep.tz
    ledger = ep.s.ledger or ContactLedger()
    target, party = _target(ep, now, channel)
    if target is None and channel in ("sms", "voice", "call"):
        return ChannelCompliance(
            channel=channel,
            party=party,
            allowed_now=False,
            rule=NONE_REACHABLE,
            reason="No live number the channel can reach.",
        )
    proposal = ProposedContact(channel=channel, at=now, target=target, party=party)
    decision = earliest_allowed(
        proposal, ledger, ep.s.holds, ep.profile, ep.context, calendars=ep.calendars
    )
    earliest = decision.earliest if decision.allowed else None
    allowed_now = earliest is not None and earliest <= now
    blocked_by = decision.requirements.get("blocked_by")
    rule = None if allowed_now else str(blocked_by or decision.rule or "")
    return ChannelCompliance(
        channel=channel,
        party=party,
        target=target,
        allowed_now=allowed_now,
        next_allowed=earliest,
        next_allowed_local=_local(earliest, tz) if earliest is not None else None,
        rule=rule or None,
        reason=decision.reason,
        caps=cap_usage(proposal, ledger, ep.s.holds, ep.profile, ep.context, ep.calendars),
    )


def compliance_status(ep: Episode, now: datetime) -> ComplianceStatus:
    """Every channel of the contact rules, in the vocabulary's order."""
    return ComplianceStatus(
        loan_id=ep.s.account.loan_id,
        as_of=now,
        timezone=ep.tz,
        local_time=_local(now, ep.tz),
        profile=ep.profile.name,
        channels=[channel_compliance(ep, now, channel) for channel in CHANNELS],
    )
