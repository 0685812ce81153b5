"""The desk in a real browser (issue 15): Debian's Chromium, headless, driven by Playwright for
Python, against the whole app served over HTTP on a free port, with the real workflows on the
time-skipping server and a worker. One server, worker and browser for the module; each flow
starts its own account and skips virtual time to its DPD-2 call task.

Chromium must be at /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it). Without
it the tests skip, except under CI=1, where they fail: CI must run them. Screenshots of the main
pages go to test-artifacts/desk/ (gitignored).
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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import data_converter
from store.engine import get_engine, session_scope
from store.models import TaskRow
from tests.conftest import LOAN_SYSTEM, TEST_SERVER
from tests.conftest import SUPERVISOR as SUPERVISOR_KEY
from tests.desk.conftest import PASSWORD, make_user
from tests.workflows.helpers import account_json, business_today, sleep_until
from worker.main import build_worker

pytestmark = pytest.mark.browser

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

if not CHROMIUM.exists():
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

from axe_playwright_python.async_playwright import Axe  # noqa: E402
from playwright.async_api import Browser, BrowserContext, Page, async_playwright  # noqa: E402

AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


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


async def sign_in(page: Page, stack: Stack, user: str = "alice") -> None:
    await page.goto(f"{stack.url}/desk/")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{stack.url}/desk/queue")


async def call_task(stack: Stack, loan_id: str) -> tuple[TaskRow, date]:
    """Start the account and skip virtual time until its DPD-2 call task is open (no SMS
    consent: the reminders before it are refused by the contact rules, no gateway needed)."""
    due = await business_today(stack.env) + timedelta(days=2)
    account = account_json(loan_id, due)
    account["borrower"]["consents"] = {"sms": False, "voice": True}
    stack.started.append(loan_id)
    started = await stack.api.post("/v1/accounts", json=account, headers=LOAN_SYSTEM)
    assert started.status_code == 201, started.text
    await sleep_until(stack.env, due + timedelta(days=2), hour=10)
    for _ in range(8):
        with session_scope(stack.database_url) as session:
            row = session.exec(
                select(TaskRow).where(TaskRow.loan_id == loan_id, TaskRow.status == "open")
            ).first()
        if row is not None:
            return row, due + timedelta(days=2)
        await stack.env.sleep(timedelta(minutes=10))
    pytest.fail(f"no call task for {loan_id}")


def stored(stack: Stack, task_id: str) -> TaskRow:
    with session_scope(stack.database_url) as session:
        row = session.get(TaskRow, task_id)
    assert row is not None
    return row


async def test_a_collector_signs_in_and_a_wrong_password_is_refused(
    page: Page, stack: Stack
) -> None:
    await page.goto(f"{stack.url}/desk/")
    await shot(page, "sign-in")
    await page.fill("#username", "alice")
    await page.fill("#password", "not-her-password")
    await page.click("main button[type=submit]")
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "The user name or the password is wrong." in await alert.inner_text()
    assert await page.input_value("#username") == "alice"  # what was typed stays
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{stack.url}/desk/queue")
    assert await page.get_by_role("heading", level=1).inner_text() == "My queue"


async def test_claim_next_gives_the_collector_the_open_call_task(page: Page, stack: Stack) -> None:
    task, _today = await call_task(stack, f"L-DESK-CLAIM-{uuid.uuid4().hex[:6]}")
    await sign_in(page, stack)
    await page.get_by_role("button", name="Claim next").click()
    await page.wait_for_url(f"{stack.url}/desk/tasks/**")
    assert page.url.endswith(f"/desk/tasks/{task.task_id}")
    assert stored(stack, task.task_id).assignee == "alice"
    # The task form: the gate's answer and the call script for a CN account's front-end stage.
    assert "allowed now" in await page.inner_text("#task-gate")
    script = await page.inner_text("#call-script")
    assert "Collection call (CN)" in script and "this is alice from arrears" in script
    await page.goto(f"{stack.url}/desk/queue")
    assert task.task_id in await page.inner_text("main")
    assert await page.evaluate("htmx.version") == "2.0.4"  # the vendored file is served
    # The row says how long the window stays open and what the contact rules still allow.
    row = page.locator("tr", has_text=task.task_id)
    assert (await row.locator("td.countdown").inner_text()).startswith("closes in ")
    rules = await row.locator("td.gate").inner_text()
    assert "allowed now" in rules and "+*********8000" in rules
    # The open task's own call is counted as the gate counts it (a pending attempt).
    assert "2 of 3 left today (cn.connected_calls_per_day)" in rules
    await shot(page, "queue")

    # The account page: the number to call now and every channel's answer from the gate.
    await page.goto(f"{stack.url}/desk/accounts/{task.loan_id}")
    assert "Number to call now: +*********8000" in await page.inner_text("p.call-now")
    table = await page.inner_text("#contact-rules")
    assert "call\tallowed now" in table
    assert "sms\tnot allowed\tconsent.sms" in table  # no SMS consent on this account


async def test_a_no_answer_is_recorded_on_the_task_and_closes_it(page: Page, stack: Stack) -> None:
    task, _today = await call_task(stack, f"L-DESK-NOANS-{uuid.uuid4().hex[:6]}")
    await sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/tasks/{task.task_id}")
    await page.select_option("#outcome", "no_answer")
    await page.get_by_role("button", name="Record outcome").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{task.loan_id}**")
    assert "no_answer" in await page.get_by_role("status").inner_text()
    row = stored(stack, task.task_id)
    assert (row.status, row.outcome_by) == ("done", "alice")
    assert "•••• 8000" in await page.inner_text("main")  # the phone, masked to its ending
    timeline = await page.locator("main table").last.inner_text()
    assert "no_answer" in timeline or "no answer" in timeline, timeline
    await shot(page, "account")


async def test_a_promise_the_workflow_refuses_is_shown_on_the_form_then_a_good_one_is_taken(
    page: Page, stack: Stack
) -> None:
    task, today = await call_task(stack, f"L-DESK-PTP-{uuid.uuid4().hex[:6]}")
    await sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/tasks/{task.task_id}")
    await page.select_option("#outcome", "promise_to_pay")
    await page.fill("#promise_amount", "1200.00")
    await page.fill("#promise_date", (today + timedelta(days=30)).isoformat())
    await page.fill("#notes", "will pay after payday")
    await page.get_by_role("button", name="Record outcome").click()
    refusal = page.get_by_role("alert")
    await refusal.wait_for()
    text = await refusal.inner_text()
    assert "invalid_promise" in text
    await shot(page, "task-refused-promise")
    # nothing typed is lost
    assert await page.input_value("#promise_amount") == "1200.00"
    assert await page.input_value("#promise_date") == (today + timedelta(days=30)).isoformat()
    assert await page.input_value("#notes") == "will pay after payday"
    assert await page.input_value("#outcome") == "promise_to_pay"
    assert stored(stack, task.task_id).status == "open"
    await page.fill("#promise_date", (today + timedelta(days=3)).isoformat())
    await page.get_by_role("button", name="Record outcome").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{task.loan_id}**")
    assert "promise_to_pay" in await page.get_by_role("status").inner_text()
    assert stored(stack, task.task_id).status == "done"


async def test_a_task_the_contact_rules_do_not_allow_yet_shows_the_next_allowed_local_time(
    page: Page, stack: Stack
) -> None:
    now: datetime = await stack.env.get_current_time()
    opens = now + timedelta(hours=30)
    task_id = f"L-DESK-GATE-{uuid.uuid4().hex[:6]}-1"
    with session_scope(stack.database_url) as session:
        session.add(
            TaskRow(
                task_id=task_id,
                loan_id="L-DESK-GATE",
                episode="episode-1",
                action_seq=1,
                kind="call",
                assignee="alice",
                not_before=opens,
                not_after=opens + timedelta(hours=2),
                detail={"stage": "front_end", "dpd": 3, "timezone": "Asia/Shanghai"},
                created_at=now,
            )
        )
    await sign_in(page, stack)
    later = page.locator("main table").last
    assert task_id in await later.inner_text()
    await page.goto(f"{stack.url}/desk/tasks/{task_id}")
    await page.select_option("#outcome", "no_answer")
    await page.fill("#notes", "tried early")
    await page.get_by_role("button", name="Record outcome").click()
    await page.get_by_role("alert").wait_for()
    local = opens.astimezone(ZoneInfo("Asia/Shanghai"))
    expected = f"{local:%Y-%m-%d %H:%M} (Asia/Shanghai)"
    assert await page.inner_text("#next-allowed") == (
        f"Next allowed moment, in the borrower's time: {expected}"
    )
    assert "task_not_open" in await page.get_by_role("alert").inner_text()
    assert await page.input_value("#notes") == "tried early"
    assert stored(stack, task_id).status == "open"
    await shot(page, "task-gate-refusal")


async def test_a_post_with_a_forged_csrf_token_is_refused(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    response = await page.request.post(
        f"{stack.url}/desk/queue/claim-next", form={"csrf": "forged"}
    )
    assert response.status == 403


async def test_choosing_chinese_translates_the_desk_and_is_remembered(
    page: Page, stack: Stack
) -> None:
    await sign_in(page, stack, "carol")
    await page.select_option("#locale-picker", "zh-CN")
    await page.get_by_role("button", name="Change").click()
    await page.wait_for_url(f"{stack.url}/desk/queue")
    assert await page.get_by_role("heading", level=1).inner_text() == "我的队列"
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await shot(page, "queue-zh-CN")
    # Carol's choice is stored with her: back to English for the module's later flows.
    await page.select_option("#locale-picker", "en")
    await page.click("header form.inline:has(#locale-picker) button[type=submit]")
    await page.wait_for_url(f"{stack.url}/desk/queue")
    assert await page.get_attribute("html", "lang") == "en"


async def test_an_expired_session_signs_in_again_and_returns_to_the_form_with_what_was_typed(
    page: Page, stack: Stack
) -> None:
    task, today = await call_task(stack, f"L-DESK-EXP-{uuid.uuid4().hex[:6]}")
    await sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/tasks/{task.task_id}")
    await page.select_option("#outcome", "promise_to_pay")
    await page.fill("#promise_amount", "600.00")
    await page.fill("#promise_date", (today + timedelta(days=2)).isoformat())
    await page.fill("#notes", "half now, half next week")
    await page.context.clear_cookies()  # the session ends while the form is being filled in
    await page.get_by_role("button", name="Record outcome").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "Your session has ended" in await alert.inner_text()
    assert stored(stack, task.task_id).status == "open"  # nothing was recorded
    await page.fill("#username", "alice")
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.get_by_role("status").wait_for()
    assert await page.input_value("#outcome") == "promise_to_pay"
    assert await page.input_value("#promise_amount") == "600.00"
    assert await page.input_value("#notes") == "half now, half next week"
    await page.get_by_role("button", name="Record outcome").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{task.loan_id}**")
    assert stored(stack, task.task_id).status == "done"


async def test_a_supervisor_sees_the_team_and_reassigns_an_account_through_the_api(
    page: Page, stack: Stack
) -> None:
    loan_id = f"L-DESK-TEAM-{uuid.uuid4().hex[:6]}"
    task, _today = await call_task(stack, loan_id)
    await sign_in(page, stack, user="carol")
    await page.get_by_role("link", name="Team").click()
    await page.wait_for_url(f"{stack.url}/desk/team")
    assert task.task_id in await page.inner_text("#team-queue")
    await shot(page, "team")

    await page.fill("#reassign-loan", loan_id)
    await page.select_option("#reassign-to", "bob")
    await page.fill("#reassign-reason", "workload balancing")
    await page.get_by_role("button", name="Reassign", exact=True).click()
    await page.wait_for_url(f"{stack.url}/desk/team?notice=*")
    assert "account reassigned" in await page.inner_text("p.notice")
    status = await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR_KEY)
    assert status.json()["holder"] == "bob"


async def test_the_dashboard_shows_each_figure_as_a_chart_with_its_numbers(
    page: Page, stack: Stack
) -> None:
    await call_task(stack, f"L-DESK-DASH-{uuid.uuid4().hex[:6]}")  # some history to count
    seed_operations(stack.database_url)
    await sign_in(page, stack, user="carol")
    await page.get_by_role("link", name="Dashboard").click()
    await page.wait_for_url(f"{stack.url}/desk/dashboard")
    await page.fill("#period-from", "2026-11-01")
    await page.fill("#period-to", "2026-12-31")
    await page.fill("#period-tz", "Asia/Shanghai")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(f"{stack.url}/desk/dashboard?*")
    # The seeded promises (6 kept, 3 broken) are among those counted (the module's other
    # flows may add theirs), and the rate shown is kept / (kept + broken) of what is shown.
    rates = await page.inner_text("#rates")
    found = re.search(r"kept (\d+), broken (\d+).*?Promise-kept rate\s+([\d.]+)%", rates, re.S)
    assert found, rates
    kept, broken, shown = int(found[1]), int(found[2]), float(found[3])
    assert kept >= 6 and broken >= 3
    assert shown == round(kept / (kept + broken) * 100, 1)
    charts = page.locator("svg.chart[role=img]")
    assert await charts.count() == 6
    assert await page.text_content("#chart-roll title") == "Roll-forward rate by bucket"
    assert "%" in await page.inner_text("#rates")
    await shot(page, "dashboard")


def seed_operations(database_url: str) -> None:
    """A month of records for the dashboard's figures (and its README screenshot): promises,
    calls worked by three collectors at several hours, texts, two agencies' placements."""
    from decimal import Decimal

    from store.agencies import AgencyRow
    from store.models import PaymentRow
    from tests.reports.test_operations_report import IN, _done, _placement, _promise, _sms
    from tests.seed import account_row, seed

    rows: list[Any] = [account_row("OP-1")]
    rows += [
        AgencyRow(agency_id=a, name=n, commission_rate=Decimal("0.2"), capacity=9, created_at=IN)
        for a, n in (("A-1", "First Agency"), ("A-2", "Second Agency"))
    ]
    statuses = ["kept"] * 6 + ["broken"] * 3 + ["open"] * 2
    rows += [_promise(n, status, IN) for n, status in enumerate(statuses)]
    outcomes = ["promise_to_pay", "no_answer", "refused", "busy", "callback_requested"]
    for n in range(24):
        done = _done(n, outcomes[n % 5], ("alice", "bob", "erin")[n % 3])
        done.outcome_at = IN + timedelta(hours=n % 9)
        rows.append(done)
    for n in range(12):
        sms = _sms(n)
        sms.at = IN + timedelta(hours=n % 6 - 1)
        rows.append(sms)
    rows += [_placement(1, "A-1", "2000"), _placement(2, "A-2", "1000")]
    rows += [
        PaymentRow(
            loan_id="OP-1",
            payment_id=f"PAY-{a}",
            amount=Decimal(x),
            paid_at=IN,
            agency_id=a,
            placement_id=p,
        )
        for a, p, x in (("A-1", "OP-PL1", "300"), ("A-2", "OP-PL2", "450"))
    ]
    seed(database_url, *rows)


async def test_an_auditor_opens_the_timeline_exports_the_history_and_replays_it(
    page: Page, stack: Stack
) -> None:
    loan_id = f"L-DESK-AUDIT-{uuid.uuid4().hex[:6]}"
    await call_task(stack, loan_id)
    make_user(stack.database_url, "dave", "auditor")
    await sign_in(page, stack, user="dave")
    await page.get_by_role("link", name="Search").click()
    await page.fill("#s-q", loan_id)
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.wait_for_url(f"{stack.url}/desk/search?*")
    assert loan_id in await page.inner_text("#results")
    await shot(page, "search")
    await page.get_by_role("link", name=f"audit {loan_id}").click()
    await page.wait_for_url(f"{stack.url}/desk/audit/{loan_id}")
    timeline = await page.inner_text("#timeline")
    assert "collection episode opened" in timeline and "contact_blocked" in timeline

    export = await page.context.request.get(f"{stack.url}/desk/audit/{loan_id}/history.json")
    assert export.ok and "attachment" in export.headers["content-disposition"]
    document = await export.json()
    assert document["format"] == "arrears.history/v1" and document["payloads"] == "encrypted"

    await page.get_by_role("button", name="Replay against the running code").click()
    await page.wait_for_url(f"{stack.url}/desk/audit/{loan_id}/replay")
    result = await page.inner_text("#replay")
    assert "Every run replays" in result
    await shot(page, "audit")
