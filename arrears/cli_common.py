"""What the store-touching subcommands (`arrears agencies`, `arrears users`) share: one way to
fail in one line, and the store brought to the newest schema before they use it."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from core.settings import get_settings

err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def migrated_database_url() -> str:
    from store.migrate import upgrade

    url = get_settings().effective_database_url
    try:
        upgrade(url)
    except Exception as exc:  # one line, not a traceback, for an unreachable database
        first = str(exc).splitlines()[0] if str(exc) else ""
        fail(f"could not open the store: {exc.__class__.__name__}: {first}")
    return url
