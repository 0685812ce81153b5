"""What a simulation run is configured with and what it records (the engine's data, apart from the
engine so that stays one job: driving the people and the clock)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from simulator.behaviour import Borrower
from simulator.scenario import SyntheticAccount

__all__ = ["CallLog", "ProgressHook", "RunConfig", "SimulationState"]


@dataclass(frozen=True)
class RunConfig:
    accounts: int
    days: int
    strategies: tuple[str, ...] = ("default",)
    split: int = 50
    seed: int = 1
    start: date = date(2030, 3, 1)
    concurrency: int = 24
    measure_events: bool = True


@dataclass
class CallLog:
    """One piece of work a simulated collector did (a call, visit, trace, verification...)."""

    loan_id: str
    task_id: str
    kind: str
    at: datetime
    outcome: str
    target: str | None
    purpose: str
    status: int
    dialled: bool = True


@dataclass
class SimulationState:
    """Everything the simulator observed and did; the summary is computed from it and the store."""

    accounts: list[SyntheticAccount]
    arms: dict[str, str]
    strategy_of: dict[str, str]
    borrowers: dict[str, Borrower]
    start: datetime
    end: datetime | None = None
    actions_seen: int = 0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the last stop saw of each snapshot (simulator.store_reads.read_store): unchanged
    # rows are not read again.
    fingerprints: dict[str, str] = field(default_factory=dict)
    automated: list[dict[str, Any]] = field(default_factory=list)
    work: list[CallLog] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    holds: dict[str, dict[tuple[str, str], datetime | None]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    dead_since: dict[str, dict[str, datetime]] = field(default_factory=lambda: defaultdict(dict))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    restructure_offers: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    offers_seen: set[tuple[str, int]] = field(default_factory=set)
    refusals: list[str] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    event_kinds: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"timers": 0, "activities": 0})
    )
    events_seconds: float = 0.0
    clock_releases: int = 0
    paid_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wall_seconds: float = 0.0
    day_curve: list[dict[str, Any]] = field(default_factory=list)


ProgressHook = Callable[[int, date, int, float], None]
