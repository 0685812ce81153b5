"""The timeline for people: a standalone HTML report (templates/timeline.html.j2) and a rich
table for the terminal; JSON is the Timeline model itself."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, Template
from rich.markup import escape
from rich.table import Table

from audit.timeline.entries import Timeline

TEMPLATES = Path(__file__).resolve().parent / "templates"

# How `arrears timeline` colours each kind of entry in the terminal.
KIND_STYLE = {
    "transition": "bold blue",
    "payment": "green",
    "promise": "yellow",
    "contact_blocked": "bold red",
    "contact": "magenta",
    "hold": "dark_orange",
    "outcome": "cyan",
    "workflow": "dim",
    "child": "dim",
}


def describe_inputs(inputs: dict[str, Any]) -> str:
    """`dpd 12 · bucket M1 · amount_overdue 1206.00` for tables and reports."""
    parts = []
    for key, value in inputs.items():
        if value is None or value == "" or isinstance(value, dict | list):
            continue
        parts.append(f"{key} {value}")
    return " · ".join(parts)


def local_time(at: datetime, timezone: str | None) -> str:
    """The instant on the borrower's clock (contact windows and due dates are local)."""
    if not timezone:
        return ""
    try:
        return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return ""


@cache
def _html_template() -> Template:
    """The report's template, a package data file (pyproject's package-data), loaded once."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    return environment.get_template("timeline.html.j2")


def render_html(
    timeline: Timeline, generated: datetime | None = None, note: str | None = None
) -> str:
    """A standalone HTML report (no external assets), for an auditor's file. The footer names
    the business time the entries cover and, separately, when the report was made (a report
    of a simulated episode can be generated "before" the virtual dates it reports)."""
    template = _html_template()
    made = generated or datetime.now(UTC)
    instants = [e.at for e in timeline.entries]
    return template.render(
        t=timeline,
        describe=describe_inputs,
        local=lambda at: local_time(at, timeline.timezone),
        generated=made.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        first=f"{min(instants):%Y-%m-%d %H:%M}" if instants else "-",
        last=f"{max(instants):%Y-%m-%d %H:%M}" if instants else "-",
        note=note,
    )


def timeline_table(timeline: Timeline) -> Table:
    """The timeline as a rich table for the terminal (`arrears timeline`, the default format)."""
    missing = (
        "\nfrom the store only; missing: " + "; ".join(timeline.missing) if timeline.missing else ""
    )
    table = Table(
        title=f"{timeline.loan_id}: {timeline.state or 'unknown'} · strategy "
        f"{timeline.strategy or '?'} · {timeline.runs} run(s) · history {timeline.history}"
        + escape(missing),
        show_lines=False,
        expand=True,
    )
    table.add_column("when (UTC)", no_wrap=True)
    if timeline.timezone:
        table.add_column(f"local ({timeline.timezone})", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("summary", ratio=3)
    table.add_column("why", ratio=3)
    table.add_column("inputs", ratio=2, style="dim")
    for e in timeline.entries:
        other = (
            f"(strategy {e.strategy})" if e.strategy and e.strategy != timeline.strategy else None
        )
        why = " ".join(
            part for part in (e.reason, f"[{e.rule}]" if e.rule else None, other) if part
        )
        style = KIND_STYLE.get(e.kind, "")
        local = [local_time(e.at, timeline.timezone)] if timeline.timezone else []
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M"),
            *local,
            f"[{style}]{escape(e.kind)}[/]" if style else escape(e.kind),
            escape(e.summary),
            escape(why),
            escape(describe_inputs(e.inputs)),
        )
    return table
