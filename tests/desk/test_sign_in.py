"""Signing in to the desk over plain HTTP (the browser tests drive the same pages in Chromium):
Argon2 passwords, the signed HttpOnly SameSite session cookie, CSRF on every form, the CLI that
adds users, and the language chosen or taken from the browser."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console
from typer.testing import CliRunner

from api.desk.i18n import from_browser
from api.desk.users import authenticate
from arrears.cli import app as cli
from arrears.stack import _demo_users, _print_banner
from core.settings import Settings, get_settings
from store.staff import get_user
from tests.desk.conftest import PASSWORD, make_user, sign_in
from tests.seed import account_row, seed


async def test_the_desk_sends_a_stranger_to_sign_in_and_back_to_the_page_asked_for(
    desk: httpx.AsyncClient,
) -> None:
    response = await desk.get("/desk/queue")
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/sign-in?next=/desk/queue"


async def test_a_right_password_opens_a_session_in_an_httponly_samesite_cookie(
    desk: httpx.AsyncClient,
) -> None:
    response = await sign_in(desk)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/desk/queue"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/desk" in cookie
    queue = await desk.get("/desk/queue")
    assert queue.status_code == 200
    assert "alice" in queue.text


async def test_a_wrong_password_is_refused_and_opens_no_session(desk: httpx.AsyncClient) -> None:
    response = await sign_in(desk, password="not the password")
    assert response.status_code == 401
    assert "The user name or the password is wrong." in response.text
    assert (await desk.get("/desk/queue")).status_code == 303


async def test_a_post_without_the_sessions_csrf_token_is_403_and_changes_nothing(
    desk: httpx.AsyncClient,
) -> None:
    no_token = {"username": "alice", "password": PASSWORD}
    assert (await desk.post("/desk/sign-in", data=no_token)).status_code == 403
    await sign_in(desk)
    forged = await desk.post("/desk/queue/claim-next", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (await desk.post("/desk/sign-out", data={})).status_code == 403
    assert (await desk.get("/desk/queue")).status_code == 200  # still signed in


async def test_a_tampered_session_cookie_is_no_session(desk: httpx.AsyncClient) -> None:
    await sign_in(desk)
    cookie = desk.cookies.get("arrears_desk")
    assert cookie
    desk.cookies.set("arrears_desk", cookie[:-2] + "xx", path="/desk")
    assert (await desk.get("/desk/queue")).status_code == 303


async def test_the_password_is_stored_only_as_an_argon2id_hash(database_url: str) -> None:
    make_user(database_url, "erin", "supervisor")
    row = get_user(database_url, "erin")
    assert row is not None and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert authenticate(database_url, "erin", PASSWORD) is not None
    assert authenticate(database_url, "erin", PASSWORD + "x") is None
    assert authenticate(database_url, "nobody", PASSWORD) is None


def test_arrears_users_add_creates_a_user_with_a_role_and_refuses_a_bad_role(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(
        cli, ["users", "add", "frank", "--role", "auditor", "--password-stdin"], input="s3cret-pw\n"
    )
    assert added.exit_code == 0, added.output
    assert authenticate(database_url, "frank", "s3cret-pw") is not None
    refused = runner.invoke(
        cli,
        ["users", "add", "gina", "--role", "loan-system", "--password-stdin"],
        input="pw-pw-pw-pw\n",
    )
    assert refused.exit_code == 1
    assert "role must be one of collector, supervisor, auditor" in refused.output
    assert get_user(database_url, "gina") is None
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,zh-TW;q=0.5", "zh-CN"),
        ("en;q=0.2,zh;q=0.9", "zh-CN"),
        ("fr", "en"),
        ("", "en"),
    ],
)
def test_without_a_choice_the_language_is_the_browsers_best_match(header: str, locale: str) -> None:
    assert from_browser(header) == locale


async def test_a_collector_opening_an_account_someone_else_holds_gets_a_403_page(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, account_row("L-BOBS", assignee="bob"))
    await sign_in(desk)
    response = await desk.get("/desk/accounts/L-BOBS")
    assert response.status_code == 403
    assert "held by bob" in response.text


def test_the_demo_stack_creates_the_demo_users_and_prints_them_with_the_desk_url(
    settings: Settings, database_url: str
) -> None:
    users = _demo_users(settings)
    assert [(name, role) for name, role, _ in users] == [
        ("alice", "collector"),
        ("bob", "collector"),
        ("carol", "supervisor"),
        ("dave", "auditor"),
        ("erin", "anti-fraud"),
        ("frank", "legal"),
    ]
    assert authenticate(database_url, "carol", "demo-carol") is not None
    console = Console(record=True, width=120)
    _print_banner(console, settings, "127.0.0.1", False, users)
    printed = console.export_text()
    assert "Desk       http://127.0.0.1:8000/desk/" in printed
    assert "carol / demo-carol  (supervisor)" in printed
    real_keys = settings.model_copy(update={"api_keys": SecretStr("k:collector:zoe")})
    assert _demo_users(real_keys) == []


async def test_ten_wrong_passwords_make_the_address_wait_even_for_the_right_one(
    desk: httpx.AsyncClient,
) -> None:
    for _ in range(10):
        assert (await sign_in(desk, password="guess")).status_code == 401
    response = await sign_in(desk)
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.text
    assert (await desk.get("/desk/queue")).status_code == 303
