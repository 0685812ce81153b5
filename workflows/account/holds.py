"""Holds (PLAYBOOK.md sections 8 and 10; CONTRACT.md): a dispute, complaint, grace period,
cease-communication request, attorney, bankruptcy or death stops what its kind forbids at once,
stacks with the others, and ends by release or by running out. What a hold cancels and which
holds forbid a restructure offer are the strategy's data (`holds.cancels_tasks`,
`holds.no_offer`); bankruptcy and death start a write-off.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.contact import Hold, active_holds
from domain.outcomes import HardshipIn
from workflows.account import agency_legal
from workflows.account.episode import NO_SUCH_HOLD, NOT_ALLOWED, Episode, Refused
from workflows.contracts import HoldRelease

# Holds whose report starts the write-off subflow (section 8) and ends any restructuring.
WRITE_OFF_HOLDS = frozenset({"bankruptcy", "deceased"})


def cancel_tasks(ep: Episode, now: datetime, hold_kind: str) -> None:
    """The borrower's own open work that `hold_kind` forbids (the strategy's
    `holds.cancels_tasks`) is cancelled; a subflow's tasks are the subflow's."""
    kinds = ep.strategy.holds.tasks_cancelled_by(hold_kind)
    cancelled = [t for t in ep.s.open_tasks if t.kind in kinds and t.owner is None]
    ep.close_tasks(cancelled, now, "cancelled", f"{hold_kind} hold: {{kind}} tasks stop")


def add_hold(ep: Episode, now: datetime, kind: str, detail: dict[str, str]) -> Hold:
    """Record a hold and do what it starts: bankruptcy and death cancel the borrower's work
    and any restructuring, and start the write-off subflow (section 8)."""
    until = None
    if kind == "complaint":
        until = now + timedelta(days=ep.strategy.holds.complaint_days)
    hold = Hold(kind=kind, since=now, until=until, detail=detail)
    ep.s.holds.append(hold)
    ep.record_hold(now, "hold_placed", hold, detail)
    cancel_tasks(ep, now, kind)
    agency_legal.notify_hold(ep, now, hold)
    if kind in WRITE_OFF_HOLDS:
        ep.s.deferred = []
        agency_legal.recall(ep, now, f"{kind} reported", replace=False)
        if ep.s.restructure_child is not None:
            ep.signal_child(ep.s.restructure_child, "cancel")
        if ep.s.write_off_child is None:
            ep.out.children.append(kind)
    return hold


def grant_grace(ep: Episode, now: datetime, cause: str) -> datetime:
    """Section 9, short-term hardship: a grace hold pauses collection for the strategy's grace
    days; the end of the grace period."""
    until = now + timedelta(days=ep.strategy.holds.grace_days)
    grace = Hold(kind="grace", since=now, until=until, detail={"cause": cause})
    ep.s.holds.append(grace)
    ep.record_hold(now, "hold_placed", grace, {"reason": "short-term hardship"})
    cancel_tasks(ep, now, "grace")
    return until


def release_hold(ep: Episode, now: datetime, release: HoldRelease) -> Hold:
    """Ends the open holds of this kind (checked by `check_release`); collection resumes when
    the last hold ends. Releasing the last attorney hold cancels the open calls to the
    attorney: the next call step goes to the borrower again."""
    ended: Hold | None = None
    holds = []
    for hold in ep.s.holds:
        if hold.kind == release.kind and hold.active_at(now):
            hold = hold.ended(now)
            ended = hold
        holds.append(hold)
    ep.s.holds = holds
    ep.wake = True
    assert ended is not None
    if ended.kind == "attorney" and ep.attorney_phone(now) is None:
        calls = [t for t in ep.s.open_tasks if t.party == "attorney" and t.owner is None]
        ep.close_tasks(
            calls, now, "cancelled", "attorney hold released: calls go to the borrower again"
        )
    ep.record_hold(
        now,
        "hold_released",
        ended,
        {"released_by": release.released_by, "notes": release.notes or ""},
    )
    return ended


def end_write_off_holds(ep: Episode, now: datetime, notes: str) -> None:
    """The anti-fraud team found the bankruptcy or death report untrue: its holds end."""
    for hold in ep.s.holds:
        if hold.kind in WRITE_OFF_HOLDS and hold.active_at(now):
            ep.record_hold(
                now,
                "hold_released",
                hold.ended(now),
                {"released_by": "write-off verification", "notes": notes},
            )
    ep.s.holds = [
        h.ended(now) if h.kind in WRITE_OFF_HOLDS and h.active_at(now) else h for h in ep.s.holds
    ]


def check_release(ep: Episode, now: datetime, release: HoldRelease) -> None:
    ep.require_open("release a hold")
    if not any(h.kind == release.kind and h.active_at(now) for h in ep.s.holds):
        raise Refused(f"The account has no open {release.kind} hold to release.", NO_SUCH_HOLD)


def check_offer_allowed(ep: Episode, now: datetime, hardship: HardshipIn | None) -> None:
    """A long-term hardship leads to a restructure offer; none may be made during a stay,
    after a death, to a represented borrower or one who asked us to cease. Refused (409)
    rather than parked: the collector learns at once why nothing will be offered."""
    if hardship is None or hardship.term != "long":
        return
    no_offer = set(ep.strategy.holds.no_offer)
    blocking = sorted({h.kind for h in active_holds(ep.s.holds, now)} & no_offer)
    if blocking:
        raise Refused(
            f"No restructure offer can be made while a {', '.join(blocking)} hold is "
            "active; record the hardship once the hold has ended.",
            NOT_ALLOWED,
        )
