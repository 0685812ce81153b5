"""`arrears agencies add` and `arrears agencies list`: the agency registry from the shell.

Operators set up the registry before the first account reaches the placement DPD, often before
the API runs at all (a fresh `arrears up` starts with an empty registry, and placements then fail
with "no agency with free capacity", recorded on the action). So these commands talk to the
store directly, with the same DATABASE_URL as the worker, and bring its schema up to date first
(idempotent, as the worker does at start).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arrears.cli_common import fail, migrated_database_url

agencies_app = typer.Typer(help="The outside collection agency registry.", no_args_is_help=True)
console = Console()


@agencies_app.command("add")
def add(
    name: str = typer.Argument(..., help="the agency's name (unique)"),
    commission: str = typer.Option(
        ..., "--commission", help="commission as a fraction of what it recovers, e.g. 0.18"
    ),
    capacity: int = typer.Option(..., "--capacity", help="most accounts it works at one time"),
) -> None:
    """Register an agency that accounts can be placed with."""
    from store import agencies as registry
    from store.engine import session_scope

    try:
        rate = Decimal(commission.strip())
    except InvalidOperation:
        fail(f"--commission must be a decimal fraction such as 0.18, not {commission!r}")
        return
    try:
        registry.validate_agency(name, rate, capacity)
    except registry.InvalidAgency as exc:
        fail(str(exc))
    url = migrated_database_url()
    # Registering an agency is an operator's act, not an account's business event: its instant
    # is the operator's clock (the API uses its own clock the same way).
    at = datetime.now(UTC)
    try:
        with session_scope(url) as session:
            row = registry.add_agency(session, name, rate, capacity, at)
    except registry.AgencyError as exc:
        fail(str(exc))
        return
    console.print(
        f"agency [bold]{escape(row.name)}[/] registered as {row.agency_id}: commission "
        f"{row.commission_rate}, capacity {row.capacity}"
    )


@agencies_app.command("list")
def list_() -> None:
    """The registry, with the accounts each agency works now."""
    from store import agencies as registry
    from store.engine import session_scope

    url = migrated_database_url()
    with session_scope(url) as session:
        loads = registry.list_agencies(session)
    if not loads:
        console.print("no agencies registered: add one with `arrears agencies add NAME ...`")
        return
    table = Table(title="agencies")
    table.add_column("id", no_wrap=True)
    for column in ("name", "commission", "capacity", "active placements", "active"):
        table.add_column(column)
    for load in loads:
        row = load.agency
        table.add_row(
            row.agency_id,
            escape(row.name),
            str(row.commission_rate.normalize()),
            str(row.capacity),
            str(load.active_placements),
            "yes" if row.active else "no",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(agencies_app, name="agencies")
