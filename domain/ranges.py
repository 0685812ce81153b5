"""DPD ranges: buckets (reporting) and stages (treatment) are configuration, not constants.

A table must name every DPD from its start upwards exactly once; otherwise an account could
fall between two stages and get no treatment, or into two and get both.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_STAGES",
    "PRE_DUE_STAGE",
    "DpdRange",
    "RangeTable",
    "bucket_table",
    "stage_table",
]

PRE_DUE_STAGE = "pre_due"
"""The stage name of an account with nothing overdue (DPD 0): before or on its due date."""


class DpdRange(BaseModel):
    """Inclusive DPD range; an open end (max None) is only allowed on the last range of a table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    min: int = Field(ge=0)
    max: int | None = None

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Self:
        if self.max is not None and self.max < self.min:
            raise ValueError(
                f"range {self.name} ends at DPD {self.max}, before it starts at DPD {self.min}"
            )
        return self

    def label(self) -> str:
        """How errors and timelines show a range: "M1 (1–29)" or "M4+ (90+)"."""
        span = f"{self.min}+" if self.max is None else f"{self.min}–{self.max}"
        return f"{self.name} ({span})"

    def contains(self, dpd: int) -> bool:
        return dpd >= self.min and (self.max is None or dpd <= self.max)


class RangeTable(BaseModel):
    """Sorted, contiguous, non-overlapping ranges covering every DPD from `start` upwards.

    `below` names DPDs under `start` (stages start at DPD 1; DPD 0 is "pre_due").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bucket", "stage"]
    start: int = Field(ge=0)
    below: str | None = None
    ranges: list[DpdRange]

    @model_validator(mode="after")
    def _covers_every_dpd_once(self) -> Self:
        kind = self.kind
        if not self.ranges:
            raise ValueError(f"at least one {kind} range is required")
        names = [r.name for r in self.ranges]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{kind} names must be unique; repeated: {', '.join(dupes)}")
        for a, b in zip(self.ranges, self.ranges[1:], strict=False):
            if b.min < a.min:
                raise ValueError(
                    f"{kind} ranges must be sorted by DPD: {b.label()} comes after {a.label()}"
                )
        first = self.ranges[0]
        if first.min != self.start:
            raise ValueError(
                f"{kind} ranges must start at DPD {self.start}, "
                f"but the first range is {first.label()}"
            )
        for a, b in zip(self.ranges, self.ranges[1:], strict=False):
            if a.max is None:
                raise ValueError(
                    f"{kind} range {a.label()} is open-ended but is not the last range "
                    f"({b.label()} follows it); only the last range may omit max"
                )
            if b.min <= a.max:
                raise ValueError(f"{kind} ranges {a.label()} and {b.label()} overlap")
            if b.min > a.max + 1:
                missing = (
                    f"DPD {a.max + 1}" if b.min == a.max + 2 else f"DPD {a.max + 1}–{b.min - 1}"
                )
                raise ValueError(
                    f"gap between {kind} ranges {a.label()} and {b.label()}: "
                    f"{missing} has no {kind}"
                )
        last = self.ranges[-1]
        if last.max is not None:
            raise ValueError(
                f"the last {kind} range {last.label()} must be open-ended (no max) "
                f"so that every DPD above {last.max} has a {kind}"
            )
        return self

    def lookup(self, dpd: int) -> str:
        """The name for a DPD; tables are total from `start` upwards by construction."""
        if dpd < self.start:
            if self.below is None:
                raise ValueError(f"DPD {dpd} is below the first {self.kind} range")
            return self.below
        for r in self.ranges:
            if r.contains(dpd):
                return r.name
        raise AssertionError("unreachable: validated tables cover every DPD")  # pragma: no cover

    def next_boundary_after(self, dpd: int) -> int | None:
        """The next DPD at which the name changes, so a workflow can sleep until exactly then."""
        if dpd < self.start:
            return self.start
        for r in self.ranges:
            if r.contains(dpd):
                return None if r.max is None else r.max + 1
        raise AssertionError("unreachable: validated tables cover every DPD")  # pragma: no cover


def _table(**fields: Any) -> RangeTable:
    # Re-raised as a plain ValueError carrying only our sentence, so that callers (the strategy
    # loader, pydantic validators) report it without pydantic's wrapping.
    try:
        return RangeTable.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None


def bucket_table(ranges: list[DpdRange]) -> RangeTable:
    """Buckets cover DPD 0 upwards (DPD 0 is "current")."""
    return _table(kind="bucket", start=0, ranges=ranges)


def stage_table(ranges: list[DpdRange]) -> RangeTable:
    """Stages cover DPD 1 upwards; DPD 0 is the pre_due stage."""
    return _table(kind="stage", start=1, below=PRE_DUE_STAGE, ranges=ranges)


DEFAULT_BUCKETS = bucket_table(
    [
        DpdRange(name="current", min=0, max=0),
        DpdRange(name="M1", min=1, max=29),
        DpdRange(name="M2", min=30, max=59),
        DpdRange(name="M3", min=60, max=89),
        DpdRange(name="M4+", min=90),
    ]
)

DEFAULT_STAGES = stage_table(
    [
        DpdRange(name="front_end", min=1, max=29),
        DpdRange(name="mid_range", min=30, max=89),
        DpdRange(name="hard_core", min=90, max=149),
        DpdRange(name="legal", min=150),
    ]
)
