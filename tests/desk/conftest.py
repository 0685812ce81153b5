"""What the desk's tests share: users in the test store, the CSRF token of a page, the desk's
app on a fixed business clock with an HTTP client (`desk`), and signing in.

A module says who it signs in as by overriding `desk_users`; a module whose app differs (single
sign-on settings, the virtual clock) overrides `desk_app`. The browser tests' stack and pages are
in tests/desk/browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.desk.users import add_user
from core.settings import Settings

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


def make_user(database_url: str, name: str, role: str) -> None:
    add_user(database_url, name, role, PASSWORD, datetime(2026, 12, 1, tzinfo=UTC))


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)


async def desk_clock() -> datetime:
    """The business clock of the desk's HTTP tests: a fixed instant."""
    return NOW


@pytest.fixture
def desk_users() -> dict[str, str]:
    """The desk users (name → role) the module's tests sign in as."""
    return {"alice": "collector"}


@pytest.fixture
def desk_app(settings: Settings) -> FastAPI:
    """The whole API app (the desk inside it) on the fixed clock, with no Temporal."""
    return create_app(settings, clock=desk_clock)


@pytest.fixture
async def desk(
    desk_app: FastAPI, database_url: str, desk_users: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the desk's app (its own cookie jar: one person's browser)."""
    for name, role in desk_users.items():
        make_user(database_url, name, role)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=desk_app), base_url="http://arrears.test"
    ) as client:
        yield client


async def sign_in(
    desk: httpx.AsyncClient, name: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    """Post the sign-in form with the form's own CSRF token; the answer as it came."""
    page = await desk.get("/desk/sign-in")
    form = {"csrf": csrf_of(page.text), "username": name, "password": password}
    return await desk.post("/desk/sign-in", data=form)


async def signed_in(desk: httpx.AsyncClient, name: str) -> None:
    """Sign in, which must succeed (a redirect to the page asked for)."""
    response = await sign_in(desk, name)
    assert response.status_code == 303, response.text
