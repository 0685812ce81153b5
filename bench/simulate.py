"""Benchmark `arrears simulate` against a bare Temporal baseline measured in the same run.

    .venv/bin/python -m bench.simulate --accounts 200 --days 180

1. The simulator: N accounts, D days, default strategy and scenario (real workflows,
   activities, API and sandbox). Measured: wall time, account lifecycles per minute, history
   events per episode (and timers + activities per episode), and memory per open workflow: the
   RSS growth of this process (worker, API and simulator together) from before the first
   account started to the day with the most accounts open, divided by that number.
2. The bare baseline on a fresh time-skipping server in the same process: N minimal workflows
   with the simulator's mean number of timers and activities per episode, spread over D days,
   advanced day by day the same way. Same figures.
3. Ratios simulator / bare (history events per second first: the per-event throughput, which
   does not favour the side with the shorter episodes), and a projection to 10,000 accounts
   from the measured throughput (account-days per second), written to
   bench/results/simulate-N{N}-D{D}.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from api.app import create_app
from bench.bare import rss_bytes
from simulator.run import simulate
from simulator.stack import Processes
from worker.main import build_worker

RESULTS = Path(__file__).resolve().parent / "results"


async def bench(accounts: int, days: int, seed: int, worker_processes: int = 1) -> dict[str, Any]:
    peak = {"open": 0, "rss": 0}
    baseline = rss_bytes()
    cpu = {"began": time.process_time(), "ended": 0.0}

    def progress(done: int, today: date, open_accounts: int, elapsed: float) -> None:
        rss = rss_bytes()
        if open_accounts >= peak["open"]:
            peak["open"], peak["rss"] = open_accounts, rss
        print(f"day {done}/{days} {today} open {open_accounts} {elapsed:.0f}s", flush=True)
        cpu["ended"] = time.process_time()  # the last day's: the history fetch comes after

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        summary = await simulate(
            Path(out),
            accounts,
            days,
            ("default",),
            seed=seed,
            progress=progress,
            charts=False,
            # The benchmark is a program of its own, like `arrears simulate`: it supplies the API
            # and the worker the simulator drives (simulator/stack.py).
            processes=Processes(
                app=create_app,
                worker=build_worker,
                worker_command=(sys.executable, "-m", "arrears.cli", "worker"),
            ),
            worker_processes=worker_processes,
        )
    total_wall = time.perf_counter() - began
    sim_wall = summary["timings"]["wall_seconds"]
    per_model = summary["history_events_per_episode"]
    episodes = sum(m["episodes"] for m in per_model.values())
    events = sum(m["mean"] * m["episodes"] for m in per_model.values()) / episodes
    pairs = sum(m["timers_plus_activities_mean"] * m["episodes"] for m in per_model.values())
    pairs /= episodes
    # Split the measured timer+activity count evenly between the two for the baseline.
    timers = activities = max(1, round(pairs / 2))
    sim = {
        "accounts": accounts,
        "days": days,
        "wall_seconds": sim_wall,
        "wall_seconds_with_setup_and_summary": round(total_wall, 1),
        "lifecycles_per_minute": round(60 * accounts / sim_wall, 1),
        "account_days_per_second": round(accounts * days / sim_wall, 1),
        "history_events_per_episode": round(events, 1),
        # Throughput per history event: what the simulator gets done per second of wall time,
        # whatever an episode's length (issue 19's measure).
        "history_events_per_second": round(events * accounts / sim_wall, 1),
        # This process's CPU (worker, API, gateway, simulator; not the test server's) per
        # history event, from before the stack starts to the last day: far less moved by other
        # work on the machine than the wall times.
        "cpu_ms_per_history_event": round(
            1000 * (cpu["ended"] - cpu["began"]) / max(1.0, events * accounts), 3
        ),
        # With --worker-processes N > 1, the others' share: the CPU above is this process's only.
        "worker_processes": worker_processes,
        "extra_worker_cpu_seconds": summary["timings"]["extra_worker_cpu_seconds"],
        "extra_worker_workflow_tasks": summary["timings"]["extra_worker_workflow_tasks"],
        "extra_worker_activities": summary["timings"]["extra_worker_activities"],
        "timers_plus_activities_per_episode": round(pairs, 1),
        "history_events_per_episode_by_model": per_model,
        "rss_bytes_per_open_workflow": round((peak["rss"] - baseline) / max(1, peak["open"])),
        "peak_open_accounts": peak["open"],
        "final_states": summary["final_states"],
        "compliance_violations": summary["compliance_violations"],
        "simulator_errors": summary["simulator_errors"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    partial = RESULTS / f"simulate-N{accounts}-D{days}.partial.json"
    partial.write_text(json.dumps(sim, indent=2, sort_keys=True) + "\n")
    print("bare baseline ...", flush=True)
    bare = await _bare_in_subprocess(accounts, days, timers, activities)
    bare["history_events_per_second"] = round(
        bare["history_events_per_episode"] * bare["workflows"] / bare["wall_seconds"], 1
    )
    ratios = {
        "history_events_per_second": round(
            sim["history_events_per_second"] / bare["history_events_per_second"], 3
        ),
        "cpu_ms_per_history_event": round(
            sim["cpu_ms_per_history_event"] / max(0.001, bare["cpu_ms_per_history_event"]), 3
        ),
        "lifecycles_per_minute": round(
            sim["lifecycles_per_minute"] / bare["lifecycles_per_minute"], 3
        ),
        "history_events_per_episode": round(
            sim["history_events_per_episode"] / bare["history_events_per_episode"], 3
        ),
        "rss_bytes_per_open_workflow": round(
            sim["rss_bytes_per_open_workflow"] / max(1, bare["rss_bytes_per_open_workflow"]), 3
        ),
    }
    projection = {
        "accounts": 10_000,
        "days": days,
        "projected_wall_seconds": round(10_000 * days / sim["account_days_per_second"]),
        "basis": "linear in account-days at the throughput measured here",
    }
    partial.unlink()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "seed": seed,
        "simulator": sim,
        "bare": bare,
        "ratio_simulator_to_bare": ratios,
        "projection": projection,
    }


async def _bare_in_subprocess(n: int, days: int, timers: int, activities: int) -> dict[str, Any]:
    """The baseline in a fresh Python process on its own time-skipping server (same binary,
    same machine, right after the simulator): a fresh heap keeps its RSS figure honest."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bare",
        *(str(x) for x in (n, days, timers, activities)),
        stdout=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    out, _ = await process.communicate()
    lines = out.decode().strip().splitlines()
    # The SDK's native threads can abort the interpreter at exit (seen at N = 1000: "PyGILState_
    # Release ... finalizing") after the result was printed: the printed result stands.
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"the bare baseline failed (exit {process.returncode})")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker-processes", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(bench(args.accounts, args.days, args.seed, args.worker_processes))
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-W{args.worker_processes}" if args.worker_processes > 1 else ""
    path = RESULTS / f"simulate-N{args.accounts}-D{args.days}{suffix}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["ratio_simulator_to_bare"], indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
