"""`arrears simulate`: a synthetic portfolio through the real workflows in virtual time (issue 9).

Starts its own time-skipping Temporal server (from the wheel), worker, sandbox gateway,
temporary store and in-process API; see simulator/ for the loop and the borrower models.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _bucket_cell(cell: dict[str, Any]) -> str:
    return f"{_pct(cell['rate'])} of {cell['entered']}"


def headline(summary: dict[str, Any]) -> Table:
    """The headline table: one column for the portfolio, one per arm when a challenger ran."""
    sections: list[tuple[str, dict[str, Any]]] = [("portfolio", summary)]
    for arm, section in (summary.get("arms") or {}).items():
        sections.append((f"{arm}\n{section['strategy']}", section))
    table = Table(
        title=f"arrears simulate — {summary['accounts']} accounts, "
        f"{summary['days']} days, seed {summary['seed']}"
    )
    table.add_column("")
    for name, _ in sections:
        table.add_column(name, justify="right")

    def row(label: str, pick: Any) -> None:
        table.add_row(label, *[pick(s) for _, s in sections])

    row("accounts", lambda s: str(s["accounts"]))
    for state in ("paid_on_time", "cured", "restructured", "delinquent", "written_off", "closed"):
        row(f"  {state}", lambda s, st=state: str(s["final_states"].get(st, 0)))
    row("cure rate", lambda s: _pct(s["cure_rate"]))
    for bucket in ("M1", "M2", "M3", "M4+"):
        row(
            f"  cure rate {bucket}",
            lambda s, b=bucket: _bucket_cell(s["cure_rate_by_bucket"][b]),
        )
    row("roll M1→M2", lambda s: _pct(s["roll_rates"]["rates"]["M1"]["M2"]))
    row("PTP kept rate", lambda s: _pct(s["ptp"]["kept_rate"]))
    reasons = sorted({code for _, s in sections for code in s.get("missed_payment_reasons", {})})
    if reasons:
        row("why they missed (reasons given)", lambda s: "")
    for code in reasons:
        row(f"  {code}", lambda s, c=code: str(s.get("missed_payment_reasons", {}).get(c, 0)))
    row("contacts", lambda s: str(sum(s["contacts_by_channel"].values())))
    row("cost", lambda s: s["cost_total"])
    row("recovered", lambda s: s["amount_recovered"])
    row("compliance violations", lambda s: str(s["compliance_violations"]))
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        accounts: int = typer.Option(100, "--accounts", min=1, help="synthetic accounts"),
        days: int = typer.Option(180, "--days", min=1, help="virtual days to simulate"),
        strategy: str = typer.Option(
            "default",
            "--strategy",
            help="NAME or CHAMPION,CHALLENGER (files in policy/strategies/)",
        ),
        split: int = typer.Option(50, "--split", min=0, max=100, help="% to the challenger"),
        seed: int = typer.Option(1, "--seed", help="same seed, same summary"),
        worker_processes: int = typer.Option(
            1,
            "--worker-processes",
            min=1,
            max=16,
            help="worker processes polling the run's task queue (one per core helps: each "
            "runs one workflow task at a time)",
        ),
        out: Path = typer.Option(Path("simulation"), "--out", help="summary.json and charts"),
        scenario: Path | None = typer.Option(
            None, "--scenario", help="portfolio mix and costs (default scenarios/default.yaml)"
        ),
        start: str = typer.Option(
            "2030-03-01", "--start", help="the first virtual day (a fixed date: reproducible)"
        ),
    ) -> None:
        """Run a synthetic portfolio through the real workflows in virtual time."""
        from api.app import create_app
        from domain.strategy import StrategyError, load_strategy
        from worker.main import build_worker

        try:
            from simulator.run import simulate as run
            from simulator.scenario import load_scenario
            from simulator.stack import Processes
        except ModuleNotFoundError as exc:  # the production image ships without the simulator
            _fail(
                f"arrears simulate needs the simulator and its extra ({exc.name} is missing): "
                "pip install 'arrears[sim]' from a checkout"
            )
            return

        names = tuple(n.strip() for n in strategy.split(",") if n.strip())
        if not 1 <= len(names) <= 2:
            _fail("--strategy takes one name or two (champion,challenger)")
        try:
            for name in names:
                load_strategy(name)
            chosen = load_scenario(scenario)
            first = date.fromisoformat(start)
        except (StrategyError, ValueError, OSError) as exc:
            _fail(str(exc))
            return
        with Progress(
            TextColumn("[bold]{task.fields[day]}"),
            BarColumn(),
            TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("open {task.fields[open]}"),
            TextColumn("{task.fields[rate]} account-days/s"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(
                "simulate", total=days, day=str(first), open=accounts, rate="—"
            )

            def update(done: int, today: date, open_accounts: int, elapsed: float) -> None:
                rate = f"{accounts * done / elapsed:.0f}" if elapsed > 0 else "—"
                progress.update(task, completed=done, day=str(today), open=open_accounts, rate=rate)

            summary = asyncio.run(
                run(
                    out,
                    accounts,
                    days,
                    names,
                    split,
                    seed,
                    chosen,
                    first,
                    progress=update,
                    processes=Processes(
                        app=create_app,
                        worker=build_worker,
                        worker_command=(sys.executable, "-m", "arrears.cli", "worker"),
                    ),
                    worker_processes=worker_processes,
                )
            )
        console.print(headline(summary))
        console.print(
            f"wall time {summary['timings']['wall_seconds']} s · "
            f"summary and charts in {escape(str(out))}"
        )
        console.print(
            f"borrowers {summary['borrowers']} ({summary['multi_loan_borrowers']} with several "
            f"loans) · violations across a borrower's loans "
            f"{summary['compliance_violations_by_borrower']}"
        )
        if summary["compliance_violations"] or summary["compliance_violations_by_borrower"]:
            err.print(
                f"[bold red]{summary['compliance_violations']} compliance violations, "
                f"{summary['compliance_violations_by_borrower']} across borrowers' loans[/]"
            )
            raise typer.Exit(2)
