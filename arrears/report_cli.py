"""`arrears report`: the live scoreboard in the terminal (PLAYBOOK.md section 4).

The roll-rate matrix between month ends and the cure rates, overall and per champion/challenger
arm, computed from the store's transition records exactly as `GET /v1/reports/roll-rates` and
`/v1/reports/cure-rates` compute them (`--format json` prints those two bodies). Reads the store
directly, with the same DATABASE_URL as the worker; needs neither Temporal nor the API.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.settings import get_settings

console = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date such as 2026-12-01, not {value!r}")
    return None  # pragma: no cover (unreachable: _fail exits)


def default_start(end: date) -> date:
    """The 1st of the third month before `end`'s month: three complete month-end rolls and the
    delinquencies that began since."""
    first = end.replace(day=1)
    for _ in range(3):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _roll_table(title: str, statuses: list[str], matrix: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("from \\ to", no_wrap=True)
    for status in statuses:
        table.add_column(status, justify="right")
    table.add_column("accounts", justify="right")
    for row in statuses:
        total = matrix["totals"][row]
        cells = [
            f"{_percent(matrix['rates'][row][col])} ({matrix['counts'][row][col]})"
            if total
            else "–"
            for col in statuses
        ]
        table.add_row(row, *cells, str(total))
    return table


def _curve_at(view: dict[str, Any], days: int) -> str:
    curve = view["cure_curve"]
    return _percent(curve[min(days, len(curve) - 1)]) if curve else "–"


def _cure_rows(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of one column of the cure table."""
    rows = [
        ("became delinquent", str(view["became_delinquent"])),
        ("back to Current", str(view["cured_total"])),
        ("cure rate", _percent(view["rate"]) if view["became_delinquent"] else "–"),
    ]
    rows += [(f"  {name}", str(count)) for name, count in view["outcomes"].items()]
    for bucket, cure in view["by_bucket"].items():
        rate = f"{_percent(cure['rate'])} of {cure['entered']}" if cure["entered"] else "–"
        rows.append((f"cure rate from {bucket}", rate))
    rows += [(f"cured within {d} days", _curve_at(view, d)) for d in (7, 14, 30, 60, 90)]
    return rows


def _cure_table(title: str, views: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column("", no_wrap=True)
    for name in views:
        table.add_column(name, justify="right")
    columns = [_cure_rows(view) for view in views.values()]
    for index, (label, _value) in enumerate(columns[0]):
        table.add_row(label, *(column[index][1] for column in columns))
    return table


def report(
    from_: str | None = typer.Option(
        None, "--from", help="first day (YYYY-MM-DD); default: the 1st, three months back"
    ),
    to: str | None = typer.Option(None, "--to", help="last day, inclusive; default: today"),
    tz: str = typer.Option("UTC", "--tz", help="IANA time zone of month ends and days"),
    experiment: str | None = typer.Option(
        None, "--experiment", help='only arms of this experiment, "champion@v:challenger@v"'
    ),
    output: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """The scoreboard: roll rates between month ends and cure rates, overall and per arm."""
    from domain.calendar import validate_timezone, zone
    from store.migrate import upgrade
    from store.reports import check_period, cure_report, roll_report

    if output not in ("table", "json"):
        _fail(f"--format must be table or json, not {output!r}")
    try:
        validate_timezone(tz)
    except ValueError as exc:
        _fail(str(exc))
    # The wall clock only picks the default period; no business decision is made here.
    end = _date(to, "--to") or datetime.now(zone(tz)).date()
    start = _date(from_, "--from") or default_start(end)
    if start > end:
        _fail(f"--from {start} is after --to {end}")
    try:
        check_period(start, end)
    except ValueError as exc:
        _fail(str(exc))
    url = get_settings().effective_database_url
    try:
        upgrade(url)
        rolls = roll_report(url, start, end, tz, experiment)
        cures = cure_report(url, start, end, tz, experiment)
    except Exception as exc:  # one line, not a traceback, for an unreachable database
        first = str(exc).splitlines()[0] if str(exc) else ""
        _fail(f"could not read the store: {exc.__class__.__name__}: {first}")
        return
    roll_body, cure_body = rolls.as_json(), cures.as_json()
    if output == "json":
        typer.echo(json.dumps({"roll_rates": roll_body, "cure_rates": cure_body}, indent=2))
        return
    ends = ", ".join(roll_body["month_ends"]) or "none (no month ends in the period)"
    console.print(f"scoreboard {start} to {end} ({tz}); month ends: {ends}")
    sections = {"overall": roll_body["overall"], **roll_body["arms"]}
    for name, matrix in sections.items():
        strategies = roll_body["arms"].get(name, {}).get("strategies", [])
        label = f"roll rates — {name}" + (f" ({', '.join(strategies)})" if strategies else "")
        console.print(_roll_table(label, roll_body["statuses"], matrix))
    console.print(
        _cure_table(
            f"cure rates — delinquencies that began {start} to {end}",
            {"overall": cure_body["overall"], **cure_body["arms"]},
        )
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report)
