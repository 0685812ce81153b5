"""What the desk's tests share: users in the test store, the CSRF token of a page, the desk's
app on a fixed business clock with an HTTP client (`desk`), and signing in; for the browser
tests, the whole stack, Chromium, a page per test, screenshots with axe-core's check, and the
preambles of their flows (an account started and aged, a call task open, a collector on it).

A module says who it signs in as by overriding `desk_users`; a module whose app differs (single
sign-on settings, the virtual clock) overrides `desk_app`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.desk.users import add_user
from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import data_converter
from store.engine import get_engine, session_scope
from store.models import TaskRow
from tests.conftest import LOAN_SYSTEM, TEST_SERVER
from tests.workflows.helpers import account_json, business_today, sleep_until
from worker.main import build_worker

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
    """The whole API app (the desk inside it) on the fixed clock, with no Temporal: its address
    is a port where nothing listens, not the default 7233, where a dev server may be running."""
    return create_app(
        settings.model_copy(update={"temporal_address": "127.0.0.1:9"}), clock=desk_clock
    )


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


# ------------------------------------------------------------------------ in a real browser
# The browser tests (marker `browser`): Debian's Chromium, headless, driven by Playwright for
# Python, against the whole app served over HTTP on a free port, with the real workflows on the
# time-skipping server and a worker: one stack and one browser per module (module-scoped
# fixtures), a fresh browser context per test. Chromium must be at /usr/bin/chromium
# (`apt-get install chromium`; `.ci/run` installs it). Without it the tests skip, except under
# CI=1, where they fail: CI must run them. Screenshots of the main pages go to
# test-artifacts/desk/ (gitignored), each checked with axe-core.

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "desk"
TIMEOUT_MS = 15_000
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def require_chromium() -> None:
    """Skip a browser module without Chromium; under CI=1 fail it instead."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "1":
        pytest.fail(
            f"{CHROMIUM} is missing under CI=1: the browser tests must run in CI "
            "(.ci/run installs it with `apt-get install -y chromium`)",
            pytrace=False,
        )
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install -y chromium); CI=1 makes this a failure",
        allow_module_level=True,
    )


class Stack:
    """What the flows share: the app's URL, an API client with keys, the store, the server."""

    def __init__(self, url: str, api: httpx.AsyncClient, database_url: str, env: Any) -> None:
        self.url, self.api, self.database_url, self.env = url, api, database_url, env
        self.started: list[str] = []


@pytest.fixture(scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite: Path,
    policy_dir: Path,
    sandbox_url: str,
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("desk")
    path = folder / "arrears.db"
    shutil.copyfile(migrated_sqlite, path)
    database_url = f"sqlite:///{path}"
    settings = Settings(
        DATABASE_URL=database_url,
        ARREARS_POLICY_DIR=policy_dir,
        ARREARS_TASK_QUEUE=f"desk-{uuid.uuid4().hex[:8]}",
        ARREARS_API_KEYS=DEMO_API_KEYS,
        ARREARS_DATA_DIR=folder / "data",
        ARREARS_SANDBOX_URL=sandbox_url,
        ARREARS_PUBLIC_URL="http://127.0.0.1:9",
    )
    for name, role in (("alice", "collector"), ("carol", "supervisor")):
        make_user(database_url, name, role)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings),
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        app = create_app(settings, client=env.client, clock=env.get_current_time)
        sock = listening_socket()
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with build_worker(env.client, settings, executor), serve_in_background(app, sock):
                url = url_of(sock)
                async with httpx.AsyncClient(base_url=url, timeout=30) as api:
                    found = Stack(url, api, database_url, env)
                    yield found
                    for loan_id in found.started:
                        handle = env.client.get_workflow_handle(f"account-{loan_id}")
                        with contextlib.suppress(RPCError):
                            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                                await handle.terminate("test finished")
        sock.close()
    finally:
        await env.shutdown()
        get_engine(database_url).dispose()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context per test (its own cookies: a fresh profile), English."""
    context: BrowserContext = await browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    yield opened
    await context.close()


async def shot(page: Page, name: str) -> None:
    """A screenshot of a main page into test-artifacts/desk, and axe-core's accessibility check
    of it (WCAG 2.1 A and AA rules): any violation fails, its report written beside the PNG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    results = await Axe().run(page, options=AXE_OPTIONS)
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(results.response["violations"]))
    assert results.violations_count == 0, results.generate_report()


async def browser_sign_in(page: Page, stack: Stack, user: str = "alice") -> None:
    await page.goto(f"{stack.url}/desk/")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{stack.url}/desk/queue")


async def start_account(stack: Stack, loan_id: str, days_past_due: int, **history: Any) -> date:
    """Start an account (no SMS consent: the reminders are refused by the contact rules, no
    gateway needed) and skip virtual time to 10:00 on the day it is `days_past_due` days past
    due; answers that day."""
    due = await business_today(stack.env) + timedelta(days=2)
    account = account_json(loan_id, due)
    account["borrower"]["consents"] = {"sms": False, "voice": True}
    account["history"].update(history)
    stack.started.append(loan_id)
    started = await stack.api.post("/v1/accounts", json=account, headers=LOAN_SYSTEM)
    assert started.status_code == 201, started.text
    await sleep_until(stack.env, due + timedelta(days=days_past_due), hour=10)
    return due + timedelta(days=days_past_due)


async def call_task(stack: Stack, loan_id: str) -> tuple[TaskRow, date]:
    """Start the account and skip virtual time until its DPD-2 call task is open."""
    today = await start_account(stack, loan_id, 2)
    for _ in range(8):
        with session_scope(stack.database_url) as session:
            row = session.exec(
                select(TaskRow).where(TaskRow.loan_id == loan_id, TaskRow.status == "open")
            ).first()
        if row is not None:
            return row, today
        await stack.env.sleep(timedelta(minutes=10))
    pytest.fail(f"no call task for {loan_id}")


async def on_task(page: Page, stack: Stack, prefix: str) -> tuple[TaskRow, date]:
    """A collector (alice) signed in, on the outcome form of a fresh account's DPD-2 call."""
    task, today = await call_task(stack, f"{prefix}-{uuid.uuid4().hex[:6]}")
    await browser_sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/tasks/{task.task_id}")
    return task, today


def stored(stack: Stack, task_id: str) -> TaskRow:
    with session_scope(stack.database_url) as session:
        row = session.get(TaskRow, task_id)
    assert row is not None
    return row
