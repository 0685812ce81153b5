"""`arrears users add NAME --role ROLE` and `arrears users list`: the desk's staff from the shell.

The password is asked for twice without echo (or read from standard input with
`--password-stdin`, for scripts), hashed with Argon2id and stored in the store's `staff_users`
table (api/desk/users.py); it is never printed or logged. Running `add` again for an existing
user sets their role and password.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.markup import escape

from arrears.cli_common import fail, migrated_database_url

users_app = typer.Typer(help="The people who sign in to the desk (/desk/).", no_args_is_help=True)
console = Console()


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="the user name they sign in with"),
    role: str = typer.Option(..., "--role", help="collector, supervisor or auditor"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from standard input (one line)"
    ),
) -> None:
    """Add a person (or set an existing one's role and password)."""
    from api.desk.users import UserError, add_user, check_new_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_user(name, role, password)
        add_user(migrated_database_url(), name, role, password, datetime.now(UTC))
    except UserError as exc:
        fail(str(exc))
    console.print(f"{escape(name)} may sign in to the desk as {escape(role)}")


@users_app.command("list")
def list_users() -> None:
    """The desk's users and their roles (never their passwords)."""
    from store.staff import list_users as stored

    for row in stored(migrated_database_url()):
        state = " (disabled)" if row.disabled else ""
        console.print(f"{escape(row.username)}\t{row.role}{state}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
