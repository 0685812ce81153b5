"""The desk in a real browser (issue 15): Debian's Chromium, headless, driven by Playwright for
Python, against the whole app served over HTTP on a free port, with the real workflows on the
time-skipping server and a worker. One server, worker and browser for the module; each flow
starts its own account and skips virtual time to its DPD-2 call task. The stack, the browser and
the flows' preambles are fixtures and helpers of tests/desk/conftest.py (Chromium at
/usr/bin/chromium: skipped without it, a failure under CI=1).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page

from store.engine import session_scope
from store.models import TaskRow
from tests.conftest import SUPERVISOR as SUPERVISOR_KEY
from tests.desk.conftest import (
    PASSWORD,
    Stack,
    browser_sign_in,
    call_task,
    make_user,
    on_task,
    require_chromium,
    shot,
    stored,
)

pytestmark = pytest.mark.browser
require_chromium()


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
    await browser_sign_in(page, stack)
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
    task, _today = await on_task(page, stack, "L-DESK-NOANS")
    await page.select_option("#outcome", "no_answer")
    await page.get_by_role("button", name="Record outcome").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{task.loan_id}**")
    assert "no_answer" in await page.get_by_role("status").inner_text()
    row = stored(stack, task.task_id)
    assert (row.status, row.outcome_by) == ("done", "alice")
    assert "•••• 8000" in await page.inner_text("main")  # the phone, masked to its ending
    timeline = await page.locator("main table").last.inner_text()
    assert "no_answer" in timeline or "no answer" in timeline, timeline
    await shot(page, "account-outcome")


async def test_a_promise_the_workflow_refuses_is_shown_on_the_form_then_a_good_one_is_taken(
    page: Page, stack: Stack
) -> None:
    task, today = await on_task(page, stack, "L-DESK-PTP")
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
    await browser_sign_in(page, stack)
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
    await browser_sign_in(page, stack)
    response = await page.request.post(
        f"{stack.url}/desk/queue/claim-next", form={"csrf": "forged"}
    )
    assert response.status == 403


async def test_choosing_chinese_translates_the_desk_and_is_remembered(
    page: Page, stack: Stack
) -> None:
    await browser_sign_in(page, stack, "carol")
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
    task, today = await on_task(page, stack, "L-DESK-EXP")
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
    await browser_sign_in(page, stack, user="carol")
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
    await browser_sign_in(page, stack, user="carol")
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
    await browser_sign_in(page, stack, user="dave")
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
