"""The supervisor's disputes and complaints pages in a real browser (issue 15 "disputes and
complaints with their deadlines"; issue 17 item 7): the open cases with their deadlines in the
borrower's local time and a countdown, one case with its evidence, evidence added and the
case resolved through the same services as the API, a refused adjustment shown on the form
with what was typed kept. Screenshots and axe checks like the other main pages. Shares the
module stack of tests/desk/test_browser.py (its fixtures, imported)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.async_api import Page

from tests.conftest import COLLECTOR, SUPERVISOR
from tests.desk.conftest import Stack, browser_sign_in, call_task, require_chromium, shot

pytestmark = pytest.mark.browser
require_chromium()


async def test_a_supervisor_works_a_dispute_from_its_deadline_to_an_upheld_adjustment(
    page: Page, stack: Stack
) -> None:
    loan_id = f"L-DESK-CASE-{uuid.uuid4().hex[:6]}"
    _task, today = await call_task(stack, loan_id)
    opened = await stack.api.post(
        f"/v1/accounts/{loan_id}/disputes",
        json={"reason": "the borrower disputes the late fee"},
        headers=COLLECTOR,
    )
    assert opened.status_code == 202, opened.text
    case_id = opened.json()["case"]["case_id"]
    await stack.env.sleep(timedelta(minutes=5))

    await browser_sign_in(page, stack, user="carol")
    await page.get_by_role("link", name="Disputes and complaints").click()
    await page.wait_for_url(f"{stack.url}/desk/cases")
    row = page.locator(f'tr[data-case="{case_id}"]')
    text = await row.inner_text()
    deadline = today + timedelta(days=30)
    assert deadline.isoformat() in text and "(Asia/Shanghai)" in text  # borrower's local time
    assert "answer within 29 d" in text and "Overdue" not in text
    assert "the borrower disputes the late fee" in text
    await shot(page, "cases")

    await row.get_by_role("link", name=case_id).click()
    await page.wait_for_url(f"{stack.url}/desk/cases/{case_id}")
    await page.fill("#evidence-text", "statement shows the fee debited twice")
    await page.fill("#evidence-document", "DOC-77")
    await page.get_by_role("button", name="Add evidence").click()
    await page.wait_for_url(f"{stack.url}/desk/cases/{case_id}?notice=*")
    evidence = await page.inner_text("#evidence")
    assert "statement shows the fee debited twice" in evidence and "DOC-77" in evidence
    assert "carol" in evidence
    await shot(page, "case")

    balance = Decimal(
        (await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)).json()["balance"]
    )
    await page.check("#resolution-upheld")
    await page.fill("#resolution-adjustment", str(balance + 100))
    await page.fill("#resolution-notes", "fee reversed")
    await page.get_by_role("button", name="Resolve", exact=True).click()
    refusal = await page.inner_text("#refusal")
    assert "more than the balance" in refusal
    assert await page.input_value("#resolution-adjustment") == str(balance + 100)  # kept
    assert await page.input_value("#resolution-notes") == "fee reversed"

    await page.fill("#resolution-adjustment", "12.50")
    await page.get_by_role("button", name="Resolve", exact=True).click()
    await page.wait_for_url(f"{stack.url}/desk/cases/{case_id}?notice=*")
    assert "upheld" in await page.inner_text("#case-status")
    assert "12.50 CNY" in await page.inner_text("#case-facts")
    after = await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
    assert Decimal(after.json()["balance"]) == balance - Decimal("12.50")
    # A resolved case leaves the open list.
    await page.goto(f"{stack.url}/desk/cases")
    assert case_id not in await page.inner_text("#cases")
