"""`arrears dev ...`: maintenance jobs of a checkout that run the whole stack in one process (the
time-skipping server, the worker, the API, the sandbox gateway and a temporary store): recording
the replay suite's histories, the sample timeline in docs/samples, and the simulator's benchmark
(bench/simulate.py). Like `arrears simulate`,
the command supplies the API and the worker (simulator/stack.py `Processes`), since nothing but
`arrears` may import them (DESIGN.md). The production image ships without the simulator: there
the commands say what they need."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


def _missing(exc: ModuleNotFoundError) -> NoReturn:
    message = f"arrears dev needs a checkout with the simulator ({exc.name} is missing)"
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _processes(*, worker_command: tuple[str, ...] | None = None) -> Any:
    """simulator.stack.Processes with the real API app and worker (and, for runs on several
    cores, the command that starts one more worker process)."""
    try:
        from simulator.stack import Processes
    except ModuleNotFoundError as exc:
        _missing(exc)
    from api.app import create_app
    from worker.main import build_worker

    return Processes(app=create_app, worker=build_worker, worker_command=worker_command)


def register(app: typer.Typer) -> None:
    dev = typer.Typer(help="Maintenance jobs of a checkout (histories, samples, benchmarks).")
    app.add_typer(dev, name="dev")

    @dev.command("record-histories")
    def record_histories(
        version: str = typer.Argument(..., help="the new folder under tests/histories, e.g. 1.1"),
    ) -> None:
        """Record representative episodes into tests/histories/VERSION (never over an old one)."""
        try:
            from simulator.histories import default_root, record
        except ModuleNotFoundError as exc:
            _missing(exc)
        files = asyncio.run(record(version, _processes()))
        typer.echo(f"{len(files)} histories in {default_root() / version}")

    @dev.command("sample-timeline")
    def sample_timeline(
        output: Path = typer.Argument(
            Path("docs/samples/timeline-180-days.html"), help="where the HTML goes"
        ),
    ) -> None:
        """Run one 180-day episode and write its explained timeline as HTML."""
        try:
            from simulator.sample_timeline import generate
        except ModuleNotFoundError as exc:
            _missing(exc)
        timeline = asyncio.run(generate(output, _processes()))
        kinds: dict[str, int] = {}
        for entry in timeline.entries:
            kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
        listed = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        typer.echo(f"{len(timeline.entries)} entries ({listed}) → {output}")

    @dev.command("bench-simulate")
    def bench_simulate(
        accounts: int = typer.Option(200, min=1, help="accounts to simulate"),
        days: int = typer.Option(180, min=1, help="days of business time"),
        seed: int = typer.Option(1, help="the scenario's random seed"),
        worker_processes: int = typer.Option(1, min=1, help="worker processes (cores) to use"),
    ) -> None:
        """Benchmark the simulator against a bare Temporal baseline (docs/benchmarks.md); the
        figures go to bench/results/simulate-N{N}-D{D}.json."""
        try:
            from bench.simulate import bench, write_result
        except ModuleNotFoundError as exc:
            _missing(exc)
        processes = _processes(worker_command=(sys.executable, "-m", "arrears.cli", "worker"))
        result = asyncio.run(bench(accounts, days, seed, processes, worker_processes))
        path = write_result(result, accounts, days, worker_processes)
        typer.echo(json.dumps(result["ratio_simulator_to_bare"], indent=2))
        typer.echo(f"written to {path}")
