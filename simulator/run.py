"""One call that runs a simulation end to end: stack, portfolio, days, summary, charts."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from simulator.charts import write_charts
from simulator.engine import ProgressHook, RunConfig, Simulation
from simulator.scenario import Scenario, load_scenario
from simulator.stack import Processes, sim_stack
from simulator.summary import build_summary

__all__ = ["REPRODUCIBLE_EXCLUDED", "reproducible_view", "simulate"]

REPRODUCIBLE_EXCLUDED = ("timings", "history_events_per_episode")
"""summary.json keys that depend on the machine, not on the seed: wall times, and history event
counts (how many workflow tasks the server batches signals and activity results into depends
on timing, so the count varies by a few events while every business figure stays the same)."""


def reproducible_view(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the machine-dependent keys, at the top and in every arm."""
    view = {k: v for k, v in summary.items() if k not in REPRODUCIBLE_EXCLUDED}
    if "arms" in view:
        view["arms"] = {arm: reproducible_view(section) for arm, section in view["arms"].items()}
    return view


def _quiet() -> None:
    # The gateway sends no status callbacks here; what else it would log is not worth a line.
    logging.getLogger("sandbox.app").setLevel(logging.ERROR)


async def simulate(
    out: Path,
    accounts: int,
    days: int,
    strategies: tuple[str, ...] = ("default",),
    split: int = 50,
    seed: int = 1,
    scenario: Scenario | Path | str | None = None,
    start: date | None = None,
    progress: ProgressHook | None = None,
    charts: bool = True,
    on_stack: Callable[[Any], None] | None = None,
    *,
    processes: Processes,
    worker_processes: int = 1,
) -> dict[str, Any]:
    """Run the portfolio and write `summary.json` (and the PNG charts) to `out`, with the API and
    worker `processes` builds (simulator/stack.py says why they are handed in), on
    `worker_processes` worker processes."""
    _quiet()
    chosen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    config = RunConfig(accounts=accounts, days=days, strategies=strategies, split=split, seed=seed)
    if start is not None:
        config = replace(config, start=start)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="arrears-sim-") as tmp:
        async with sim_stack(
            Path(tmp),
            processes,
            strategies,
            split,
            accounts=accounts,
            worker_processes=worker_processes,
        ) as stack:
            if on_stack is not None:
                on_stack(stack)
            simulation = Simulation(stack, chosen, config)
            state = await simulation.run(progress)
            summary = build_summary(
                state,
                chosen,
                stack.database_url,
                strategies,
                split,
                seed,
                state.events,
                jurisdiction=simulation.strategies[strategies[0]].jurisdiction,
            )
            summary["timings"]["history_fetch_seconds"] = round(state.events_seconds, 1)
            # Machine-dependent, like the wall times: see Simulation._release_stalled_clock.
            summary["timings"]["time_skipping_locks_released"] = state.clock_releases
            summary["timings"]["worker_processes"] = worker_processes
            extra = stack.extra_workers
    # Known once the extra worker processes have stopped, with the stack.
    summary["timings"]["extra_worker_cpu_seconds"] = extra.cpu_seconds
    summary["timings"]["extra_worker_workflow_tasks"] = extra.workflow_tasks
    summary["timings"]["extra_worker_activities"] = extra.activities
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if charts:
        write_charts(summary, out)
    return summary
