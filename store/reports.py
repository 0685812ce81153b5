"""The live scoreboard's data: transition facts and champion/challenger arm assignments.

The API (`/v1/reports/...`) and `arrears report` read the store through this module and compute
with `domain.scoreboard`, the same code the simulator uses, so live and simulated numbers mean
the same thing.

- `transitions` rows become `TransitionFact`s, in the order they were written (`at`, then `id`),
  so facts of one instant keep their order.
- A fact carries the arm of the experiment its loan was in at that instant: the loan's latest
  assignment made at or before the fact (a loan can take part in several experiments over its
  life, one per champion/challenger pair). Facts before any assignment, or of loans never
  assigned, have no arm and count only in the overall figures.
- `record_assignment` writes a loan's arm once per experiment: INSERT ... ON CONFLICT DO NOTHING
  on (loan_id, experiment), so a second start of the same loan — or two concurrent ones —
  leaves the first record as it was.

Workflows never import this module (see store/models.py); the API and the CLI do.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from domain.calendar import start_of_local_day, zone
from domain.scoreboard import (
    CureRates,
    RollRates,
    TransitionFact,
    cure_rates,
    facts_by_arm,
    month_ends,
    roll_rate_matrix,
)
from store.engine import as_utc, session_scope
from store.models import ArmAssignmentRow, TransitionRow

__all__ = [
    "ArmAssignment",
    "CureReport",
    "RollReport",
    "assignments",
    "check_period",
    "cure_report",
    "load_facts",
    "record_assignment",
    "roll_report",
]


@dataclass(frozen=True)
class ArmAssignment:
    loan_id: str
    experiment: str
    arm: str
    strategy_ref: str
    assigned_at: datetime


def _utc(at: datetime) -> datetime:
    """SQLite keeps wall-clock fields without the offset: always bind UTC."""
    if at.tzinfo is None:
        raise ValueError("business instants must be timezone-aware")
    return at.astimezone(UTC)


def _assignment(row: ArmAssignmentRow) -> ArmAssignment:
    assigned_at = as_utc(row.assigned_at)
    assert assigned_at is not None  # NOT NULL column
    return ArmAssignment(row.loan_id, row.experiment, row.arm, row.strategy_ref, assigned_at)


def record_assignment(
    url: str, *, loan_id: str, experiment: str, arm: str, strategy_ref: str, at: datetime
) -> ArmAssignment:
    """Record the loan's arm in the experiment unless it is recorded already; answer the record
    that stands (the first one written)."""
    values = {
        "loan_id": loan_id,
        "experiment": experiment,
        "arm": arm,
        "strategy_ref": strategy_ref,
        "assigned_at": _utc(at),
    }
    table = ArmAssignmentRow.__table__  # type: ignore[attr-defined]
    with session_scope(url) as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.connection().execute(
            dialect.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["loan_id", "experiment"])
        )
        row = session.exec(
            select(ArmAssignmentRow).where(
                ArmAssignmentRow.loan_id == loan_id, ArmAssignmentRow.experiment == experiment
            )
        ).one()
        return _assignment(row)


def assignments(url: str, loan_id: str | None = None) -> list[ArmAssignment]:
    """Arm assignments, oldest first; of one loan when `loan_id` is given."""
    with session_scope(url) as session:
        return _assignments(session, loan_id)


def _assignments(
    session: Session, loan_id: str | None = None, experiment: str | None = None
) -> list[ArmAssignment]:
    query = select(ArmAssignmentRow)
    if loan_id is not None:
        query = query.where(ArmAssignmentRow.loan_id == loan_id)
    if experiment is not None:
        query = query.where(ArmAssignmentRow.experiment == experiment)
    rows = session.exec(
        query.order_by(col(ArmAssignmentRow.assigned_at), col(ArmAssignmentRow.id))
    ).all()
    return [_assignment(row) for row in rows]


def load_facts(
    url: str, until: datetime, experiment: str | None = None
) -> tuple[list[TransitionFact], list[ArmAssignment]]:
    """Every transition at or before `until`, in the order written, each with the arm its loan
    was in at that instant (only arms of `experiment`, when given); and the assignments used.

    All of history up to `until` is read: a status at a month end, or whether a delinquency in
    the period is a new spell, depends on the facts before the period."""
    with session_scope(url) as session:
        arms = _assignments(session, experiment=experiment)
        rows = session.exec(
            select(TransitionRow)
            .where(col(TransitionRow.at) <= _utc(until))
            .order_by(col(TransitionRow.at), col(TransitionRow.id))
        ).all()
        raw = [(r.loan_id, as_utc(r.at), r.to_state, r.to_bucket, r.dpd) for r in rows]
    by_loan: dict[str, list[ArmAssignment]] = defaultdict(list)
    for assignment in arms:
        by_loan[assignment.loan_id].append(assignment)
    instants = {loan: [a.assigned_at for a in items] for loan, items in by_loan.items()}
    facts: list[TransitionFact] = []
    for loan_id, at, to_state, to_bucket, dpd in raw:
        assert at is not None  # NOT NULL column
        arm = None
        if loan_id in by_loan:
            index = bisect_right(instants[loan_id], at)
            if index:
                arm = by_loan[loan_id][index - 1].arm
        facts.append(TransitionFact(loan_id, at, to_state, to_bucket, arm=arm, dpd=dpd))
    return facts, arms


def _strategies(arms: list[ArmAssignment]) -> dict[str, list[str]]:
    """Which strategies each arm ran, for the report's reader."""
    found: dict[str, set[str]] = defaultdict(set)
    for assignment in arms:
        found[assignment.arm].add(assignment.strategy_ref)
    return {arm: sorted(refs) for arm, refs in sorted(found.items())}


@dataclass(frozen=True)
class RollReport:
    """Roll rates of the months ending in [start, end], overall and per arm."""

    start: date
    end: date
    tz: str
    overall: RollRates
    arms: dict[str, RollRates]
    strategies: dict[str, list[str]]

    def as_json(self) -> dict[str, Any]:
        """The body of `GET /v1/reports/roll-rates` (also `arrears report --format json`)."""
        here = zone(self.tz)

        def matrix(rolls: RollRates) -> dict[str, Any]:
            return {"counts": rolls.counts, "totals": rolls.totals, "rates": rolls.rates}

        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "tz": self.tz,
            "statuses": list(self.overall.statuses),
            "month_ends": [e.astimezone(here).date().isoformat() for e in self.overall.month_ends],
            "overall": matrix(self.overall),
            "arms": {
                arm: {**matrix(rolls), "strategies": self.strategies[arm]}
                for arm, rolls in self.arms.items()
            },
        }


@dataclass(frozen=True)
class CureReport:
    """Cure rates of the delinquencies that began in [start, end] (local dates), per arm too."""

    start: date
    end: date
    tz: str
    overall: CureRates
    arms: dict[str, CureRates]
    strategies: dict[str, list[str]]

    def as_json(self) -> dict[str, Any]:
        """The body of `GET /v1/reports/cure-rates` (also `arrears report --format json`)."""

        def view(cures: CureRates) -> dict[str, Any]:
            return cures.model_dump(mode="json", exclude={"start", "end"})

        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "tz": self.tz,
            "overall": view(self.overall),
            "arms": {
                arm: {**view(cures), "strategies": self.strategies[arm]}
                for arm, cures in self.arms.items()
            },
        }


EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


def check_period(start: date, end: date) -> None:
    """A reporting period: `start` not after `end`, both between 1900 and 2999 (instants around
    the extremes of `date` cannot be converted between time zones)."""
    if end < start:
        raise ValueError(f"the period ends on {end}, before it starts on {start}")
    for day in (start, end):
        if not EARLIEST <= day <= LATEST:
            raise ValueError(f"{day} lies outside the reportable years {EARLIEST}..{LATEST}")


def roll_report(
    url: str,
    start: date,
    end: date,
    tz: str = "UTC",
    experiment: str | None = None,
    arm: str | None = None,
) -> RollReport:
    """The roll of each calendar month ending within [start, end]: from the month end before it
    to its own (so December's roll is from Nov 30 to Dec 31, local time in `tz`). A period with
    no month end in it has no rolls."""
    check_period(start, end)
    inside = month_ends(start, end, tz)
    ends: list[datetime] = []
    if inside:
        first_day = start.replace(day=1)
        ends = [*month_ends(first_day - timedelta(days=1), first_day - timedelta(days=1), tz)]
        ends += inside
    horizon = ends[-1] if ends else start_of_local_day(start, tz)
    facts, arms = load_facts(url, horizon, experiment)
    split, strategies = _split(facts, arms, arm)
    return RollReport(
        start=start,
        end=end,
        tz=tz,
        overall=roll_rate_matrix(facts, ends),
        arms={name: roll_rate_matrix(items, ends) for name, items in split.items()},
        strategies=strategies,
    )


def cure_report(
    url: str,
    start: date,
    end: date,
    tz: str = "UTC",
    experiment: str | None = None,
    arm: str | None = None,
) -> CureReport:
    """Cure rates of the delinquency spells that began from the start of local day `start` to
    the end of local day `end` (in `tz`), judged at the end of `end`."""
    check_period(start, end)
    begin = start_of_local_day(start, tz)
    finish = start_of_local_day(end + timedelta(days=1), tz)
    facts, arms = load_facts(url, finish, experiment)
    split, strategies = _split(facts, arms, arm)
    return CureReport(
        start=start,
        end=end,
        tz=tz,
        overall=cure_rates(facts, begin, finish),
        arms={name: cure_rates(items, begin, finish) for name, items in split.items()},
        strategies=strategies,
    )


def _split(
    facts: list[TransitionFact], arms: list[ArmAssignment], arm: str | None
) -> tuple[dict[str, list[TransitionFact]], dict[str, list[str]]]:
    """Facts per arm — every arm with an assignment, even one with no transition yet — and the
    strategies each arm ran; only `arm` when given."""
    by_arm = facts_by_arm(facts)
    strategies = _strategies(arms)
    names = sorted(set(by_arm) | set(strategies))
    if arm is not None:
        names = [name for name in names if name == arm]
    return (
        {name: by_arm.get(name, []) for name in names},
        {name: strategies.get(name, []) for name in names},
    )
