"""What continue-as-new leaves behind: the parts of the episode's state that grow with a long
episode and that no later decision, the status query or a dedup check can read again (issue 19).

Each rule below says why what it drops is unreadable; `tests/unit/episode/test_compaction.py`
checks that an episode carried with compaction decides exactly as one carried without it, and
that a 180-day episode's carried state stays bounded. Nothing here reads a clock: `now` is the
instant of the continue-as-new.

- **Fired ladder steps of other anchors.** A key is `ANCHOR|STEP`, and the ladder reads only the
  current anchor's keys. When the anchor moves to any other date A (ladder.reanchor), the floor
  becomes the current DPD from A, and a step fired earlier from A fired on or before its day, so
  its DPD is at most that floor: `pending_steps` excludes it by the floor whatever `fired` says.
  A broken restructure plan re-anchors on a plan instalment's due date, which is later than every
  anchor before the plan (and no continue-as-new happens while the plan's subflow runs).
- **Holds that ended before the contact rules' horizon** (`ContactProfile.prune_before`, the
  same cutoff as the contact ledger's): nothing earlier than it is decided, the rules read only
  holds active at or starting after the instant decided, and a hold the placed agency still has
  to hear has ended (`agency_hold_notices`) is kept until it has been told.
- **Broken-promise dates before the escalation window** (`broken_window_months` before today):
  the window only moves forward, so they never count again; they are kept as a number
  (`broken_before`), since the status and the negative-credit record show the total. The last
  date always stays (a debit-file error can still take it back).
- **The book** (`LoanBook.compact`): penalty periods but the last as one sum, how each payment
  was split, and payments beyond the newest `MAX_REMEMBERED_PAYMENTS` as one sum.

Dedup of payments: the newest `MAX_REMEMBERED_PAYMENTS` payments of the episode keep their id and
amount (a resent id counts once, and one with another amount is a conflict), as outcomes keep
the last 500 task ids. An older id sent again would be booked again: 500 payments is decades of
monthly instalments, and the loan system resends within hours. A payment is folded only when
no open reader still counts it: it was made before today and before the open promise was made,
and it comes before the payments a restructure offer or a settlement counts from (those
indexes are moved down by the number folded).

Kept whole, because something still reads them: `path` (the status shows it; it grows only by a
bucket move), the open tasks, the current anchor's steps, the ledger's own pruned window."""

from __future__ import annotations

from datetime import date, datetime

from domain.calendar import add_months, local_date
from domain.contact import ContactProfile
from domain.strategy import Strategy
from workflows.contracts import EpisodeState

__all__ = ("MAX_REMEMBERED_PAYMENTS", "compact")

MAX_REMEMBERED_PAYMENTS = 500
"""Payments whose ids the episode remembers for dedup (the newest)."""


def compact(
    s: EpisodeState,
    now: datetime,
    strategy: Strategy,
    profile: ContactProfile,
    max_payments: int | None = None,
) -> None:
    """Drop from `s`, in place, what no later decision reads (the module's docstring says why
    each part is unreadable); `max_payments`: MAX_REMEMBERED_PAYMENTS unless given."""
    if max_payments is None:
        max_payments = MAX_REMEMBERED_PAYMENTS
    today = local_date(now, s.account.borrower.timezone)
    _fired(s)
    _holds(s, profile.prune_before(now))
    _broken_dates(s, add_months(today, -strategy.promises.broken_window_months))
    s.book.compact(_payments_to_fold(s, today, max_payments))


def _fired(s: EpisodeState) -> None:
    if s.anchor is None:
        return
    current = f"{s.anchor.isoformat()}|"
    s.fired = [key for key in s.fired if key.startswith(current) or "|" not in key]


def _holds(s: EpisodeState, before: datetime) -> None:
    # `kind@since` is episode.hold_key, the key `agency_hold_notices` holds.
    untold = set(s.agency_hold_notices)
    s.holds = [
        h
        for h in s.holds
        if h.until is None or h.until >= before or f"{h.kind}@{h.since.isoformat()}" in untold
    ]


def _broken_dates(s: EpisodeState, window_start: date) -> None:
    dates = s.broken_dates
    old = [d for d in dates[:-1] if d < window_start]
    if old:
        s.broken_before += len(old)
        s.broken_dates = [d for d in dates[:-1] if d >= window_start] + dates[-1:]


def _payments_to_fold(s: EpisodeState, today: date, max_payments: int) -> int:
    """How many of the oldest payments can be folded; moves the indexes that count from a
    payment down by as many."""
    payments = s.book.payments
    fold = max(0, len(payments) - max_payments)
    indexes = [s.offer_payments_from, s.settlement.payments_from if s.settlement else None]
    if s.offer is not None and s.offer_payments_from is None:
        return 0  # an offer from before the index was kept counts every payment
    fold = min([fold, *(i for i in indexes if i is not None)])
    since = min(today, s.promise.made_on) if s.promise else today
    fold = next((i for i, p in enumerate(payments[:fold]) if p.on >= since), fold)
    if fold:
        if s.offer_payments_from is not None:
            s.offer_payments_from -= fold
        if s.settlement is not None:
            s.settlement.payments_from -= fold
    return fold
