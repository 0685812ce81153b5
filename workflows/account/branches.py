"""The playbook's branches (PLAYBOOK.md sections 6-12): where a call goes and when.

Branch contacts are `Step`s like the ladder's (the strategy's `branch_steps`, by id), so they pass
through the same compliance gate and the same deferral; their ids start with `branch.` and never
collide with a ladder's step ids. Nothing here reads a clock: the workflow passes its own time in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from domain.account import Account
from domain.calendar import local_date, local_instant, zone
from domain.contact import ContactLedger


def live_numbers(account: Account, ledger: ContactLedger) -> list[str]:
    dead = set(ledger.dead_numbers)
    return [p.number for p in account.borrower.phones if p.number not in dead]


def rotate_call_target(account: Account, ledger: ContactLedger) -> str | None:
    """Section 6: rotate across mobile, home and work so none is a blind spot — the live number
    tried least (ties: mobile, home, work), so an unanswered one is not dialled again next."""
    live = live_numbers(account, ledger)
    if not live:
        return None
    tried = Counter(r.target for r in ledger.records if r.channel == "call" and r.target)
    order = {"mobile": 0, "home": 1, "work": 2}
    kinds = {p.number: order[p.kind] for p in account.borrower.phones}
    return min(live, key=lambda n: (tried[n], kinds.get(n, 3)))


def learned_window(
    rpc_hours: Sequence[int], day: date, tz: str
) -> tuple[datetime, datetime] | None:
    """Section 6: the account's own best hour — the local hour in which right-party contacts
    happened most often (the earliest such hour on a tie) — as a 90-minute window, or None
    until there is one."""
    if not rpc_hours:
        return None
    counts = Counter(rpc_hours)
    hour = min(counts, key=lambda h: (-counts[h], h))
    start = local_instant(day, time(hour), tz)
    return start, start + timedelta(minutes=90)


def next_slot_window(
    now: datetime, last_slot: int, slots: Sequence[tuple[time, time]], tz: str
) -> tuple[int, tuple[datetime, datetime]]:
    """Section 11: after no answer, the next attempt goes to a different slot — the next peak
    that opens after now (today if one is left, else tomorrow's first), never the one just
    used."""
    today = local_date(now, tz)
    for offset in (0, 1, 2):
        day = today + timedelta(days=offset)
        for index, (start, end) in enumerate(slots):
            if index == last_slot and offset == 0:
                continue
            opening = local_instant(day, start, tz)
            if opening > now:
                return index, (opening, local_instant(day, end, tz))
    start, end = slots[0]
    day = today + timedelta(days=1)
    return 0, (local_instant(day, start, tz), local_instant(day, end, tz))


def slot_of(instant: datetime, slots: Sequence[tuple[time, time]], tz: str) -> int:
    """The preferred slot an instant falls in (the first one after it otherwise)."""
    local = instant.astimezone(zone(tz)).time()
    for index, (start, end) in enumerate(slots):
        if start <= local < end:
            return index
    later = [i for i, (start, _) in enumerate(slots) if start > local]
    return later[0] if later else 0
