"""When the treatment ladder acts: pure scheduling of strategy steps against an account's anchor.

A step fires once per DPD anchor (the due date of the oldest unpaid instalment). When a partial
payment moves the anchor, the ladder continues from the new DPD: steps at or below it count as
passed (the `floor`), steps above it fire on their day of the new climb. Nothing here reads a
clock: `now` is always the workflow's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from domain.calendar import local_instant
from domain.strategy import Step


def step_key(anchor: date, step_id: str) -> str:
    """The identity of one firing: the same step can fire again only for another anchor."""
    return f"{anchor.isoformat()}|{step_id}"


def step_day(anchor: date, dpd: int) -> date:
    return anchor + timedelta(days=dpd)


def step_instant(anchor: date, step: Step, slots: Sequence[tuple[time, time]], tz: str) -> datetime:
    """A step acts at the opening of its preferred contact slot on its day, borrower local time."""
    start, _end = slots[min(step.slot, len(slots) - 1)]
    return local_instant(step_day(anchor, step.dpd), start, tz)


def slot_window(
    day: date, slot: int, slots: Sequence[tuple[time, time]], tz: str
) -> tuple[datetime, datetime]:
    """The task window for work in a slot: from the slot's opening to its close that day."""
    start, end = slots[min(slot, len(slots) - 1)]
    return local_instant(day, start, tz), local_instant(day, end, tz)


def pending_steps(steps: Iterable[Step], anchor: date, floor: int, fired: set[str]) -> list[Step]:
    """Steps of this climb that have not fired yet."""
    return [s for s in steps if s.dpd > floor and step_key(anchor, s.id) not in fired]


def due_steps(
    steps: Iterable[Step],
    anchor: date,
    floor: int,
    fired: set[str],
    now: datetime,
    slots: Sequence[tuple[time, time]],
    tz: str,
) -> list[Step]:
    """Steps whose moment has come (in strategy order)."""
    return [
        s
        for s in pending_steps(steps, anchor, floor, fired)
        if step_instant(anchor, s, slots, tz) <= now
    ]


def next_step(
    steps: Iterable[Step],
    anchor: date,
    floor: int,
    fired: set[str],
    now: datetime,
    slots: Sequence[tuple[time, time]],
    tz: str,
) -> tuple[Step, datetime] | None:
    """The earliest step still ahead of `now`."""
    ahead = [
        (step_instant(anchor, s, slots, tz), s) for s in pending_steps(steps, anchor, floor, fired)
    ]
    ahead = [(at, s) for at, s in ahead if at > now]
    if not ahead:
        return None
    at, step = min(ahead, key=lambda pair: (pair[0], pair[1].dpd))
    return step, at


def latest_per_action(steps: Sequence[Step]) -> tuple[list[Step], list[Step]]:
    """When several steps come due at once (after a pause or a late start), do each kind of
    action once, the latest (most severe) one; the earlier ones are superseded, not repeated."""
    latest: dict[str, Step] = {}
    for step in steps:
        current = latest.get(step.action)
        if current is None or step.dpd >= current.dpd:
            latest[step.action] = step
    keep = [s for s in steps if latest[s.action] is s]
    superseded = [s for s in steps if latest[s.action] is not s]
    return keep, superseded
