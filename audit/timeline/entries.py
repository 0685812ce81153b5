"""The timeline's entry types: one thing that happened with its business reason (TimelineEntry)
and the account's whole timeline (Timeline, what the API and `arrears timeline --format json`
return). Every other timeline module builds or reads these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

Source = Literal["store", "history"]


# Same instant: the order a reader expects: what arrived, how the state moved, what the
# workflow did about it, and only then a continue-as-new or close.
KIND_RANK = {
    "payment": 1,
    "promise": 1,
    "outcome": 1,
    "hold": 1,
    "message": 1,
    "note": 1,
    "transition": 2,
    "decision": 3,
    "case": 3,
    "contact": 3,
    "contact_blocked": 3,
    "task": 3,
    "child": 4,
    "workflow": 5,
}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimelineEntry(BaseModel):
    """One thing that happened, with its business reason."""

    at: datetime
    kind: str = Field(
        description="transition · decision · contact · contact_blocked · message · payment · "
        "promise · hold · case · outcome · task · child · workflow · note"
    )
    summary: str
    reason: str | None = Field(default=None, description="why, in the workflow's words")
    rule: str | None = Field(
        default=None, description="the strategy step, bucket rule or compliance rule that decided"
    )
    strategy: str | None = Field(default=None, description="name@version in force at the time")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="what the decision saw: dpd, bucket, amounts, ..."
    )
    source: Source
    ref: str | None = Field(default=None, description="action seq, task id or history event")
    _rank: int | None = PrivateAttr(default=None)

    def sort_key(self) -> tuple[datetime, int]:
        return self.at, self._rank if self._rank is not None else KIND_RANK.get(self.kind, 9)


class Timeline(BaseModel):
    loan_id: str
    workflow_id: str
    timezone: str | None = Field(default=None, description="the borrower's, for local times")
    state: str | None = None
    strategy: str | None = None
    history: Literal["complete", "unavailable"] = "complete"
    missing: list[str] = Field(
        default_factory=list,
        description="what only the workflow history holds and this timeline therefore lacks "
        "(empty while the history is retained)",
    )
    runs: int = 0
    children: int = 0
    entries: list[TimelineEntry] = Field(default_factory=list)
