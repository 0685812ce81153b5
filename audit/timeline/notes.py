"""Notes on the timeline (issue 15): what a collector or supervisor wrote on the account, an
entry of kind `note` at the instant it was written. A note explains nothing the workflow did (it
never saw it), so the entry has no rule; its reason says so.

Without the history the borrower's name is unknown and the scrubber cannot find it in free
text, so the text is withheld then, as an outcome's notes are (rules.Context.withhold_notes).
"""

from __future__ import annotations

from typing import Any

from audit.timeline.entries import TimelineEntry
from core.logmask import MASK
from store.engine import as_utc


def note_entries(
    notes: list[dict[str, Any]], strategy_at: Any, withhold: bool
) -> list[TimelineEntry]:
    entries = []
    for row in notes:
        at = as_utc(row.get("created_at"))
        if at is None:
            continue
        text = MASK if withhold else str(row.get("text") or "")
        entries.append(
            TimelineEntry(
                at=at,
                kind="note",
                summary=f"note by {row.get('author')} ({row.get('role')}): {text}",
                reason="written on the account by staff; a note is not a business fact and "
                "the workflow does not act on it",
                strategy=strategy_at(at)[0],
                inputs={"author": row.get("author"), "role": row.get("role")},
                source="store",
                ref=f"note {row.get('id')}",
            )
        )
    return entries
