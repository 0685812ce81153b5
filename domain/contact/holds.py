"""Holds: facts that stop some or all contact for a while (or for good).

Holds stack: every active hold is applied, and a contact is allowed only when none of them
forbids it. The rules are the same in every jurisdiction, so they are code, not profile data.

| kind | what it still allows |
|---|---|
| bankruptcy | nothing (the automatic stay stops every contact of every kind) |
| deceased | contacts with parties other than the borrower (estate, related party, guarantor) |
| cease_communication | letters with purpose `notice` only |
| attorney | contacts with party `attorney` only |
| dispute | contacts whose purpose is not `collect` (collection pauses until resolved) |
| complaint | contacts whose purpose is not `collect`, until the hold's `until` |
| grace | contacts whose purpose is not `collect`, until the grace period ends |
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self, get_args

from pydantic import AwareDatetime, BaseModel, Field, model_validator

__all__ = [
    "HOLD_KINDS",
    "HOLD_PRIORITY",
    "Hold",
    "HoldKind",
    "active_holds",
    "hold_forbids",
]

HoldKind = Literal[
    "dispute", "complaint", "bankruptcy", "deceased", "cease_communication", "attorney", "grace"
]
HOLD_KINDS: tuple[str, ...] = get_args(HoldKind)

HOLD_PRIORITY: tuple[HoldKind, ...] = (
    "bankruptcy",
    "deceased",
    "cease_communication",
    "attorney",
    "dispute",
    "complaint",
    "grace",
)
"""The order in which a refusal names a hold when several forbid the same contact."""

_STOPS = {
    "bankruptcy": "the automatic stay stops every contact",
    "deceased": "the borrower is deceased: no contact with the borrower",
    "cease_communication": "the borrower asked us to cease: only notice letters",
    "attorney": "the borrower is represented: contact the attorney only",
    "dispute": "the debt is disputed: collection pauses until the dispute is resolved",
    "complaint": "a complaint is open: collection pauses",
    "grace": "a hardship grace period is running: no collection contact",
}


class Hold(BaseModel):
    """A hold of `kind`, active from `since` (inclusive) to `until` (exclusive; None = open)."""

    kind: HoldKind
    since: AwareDatetime
    until: AwareDatetime | None = None
    detail: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.until is not None and self.until < self.since:
            raise ValueError(f"A {self.kind} hold cannot end before it starts.")
        return self

    def active_at(self, at: datetime) -> bool:
        return self.since <= at and (self.until is None or at < self.until)

    def ended(self, at: datetime) -> Hold:
        """The same hold, ending at `at` (a hold that already ended earlier is unchanged; one
        ended before it began never takes effect)."""
        if self.until is not None and self.until <= at:
            return self
        return self.model_copy(update={"until": max(at, self.since)})

    def effect(self) -> str:
        return _STOPS[self.kind]


def active_holds(holds: list[Hold], at: datetime) -> list[Hold]:
    """The holds in force at `at`, in the order given."""
    return [hold for hold in holds if hold.active_at(at)]


def hold_forbids(kind: str, channel: str, party: str, purpose: str) -> bool:
    """Whether a hold of `kind` forbids a contact on `channel` to `party` for `purpose`."""
    match kind:
        case "bankruptcy":
            return True
        case "deceased":
            return party == "borrower"
        case "cease_communication":
            return not (channel == "letter" and purpose == "notice")
        case "attorney":
            return party != "attorney"
        case "dispute" | "complaint" | "grace":
            return purpose == "collect"
    raise ValueError(f"Unknown hold kind {kind!r}; known kinds are {', '.join(HOLD_KINDS)}.")
