"""The borrower page and the release of a hold in a real browser (issues 12 and 15), against
real workflows: a collector opens a two-loan borrower's page from one account's page (both loans,
the borrower's contact counts from the contact authority, the one-story timeline naming each
loan), releases a dispute hold with its button on the account page, and reports an attorney and
a cease request from the account page. The stack, the browser and the preambles are
tests/desk/conftest.py's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.async_api import Page

from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.desk.conftest import Stack, browser_sign_in, require_chromium, shot, start_account
from tests.workflows.helpers import account_json, business_today, sleep_until

pytestmark = pytest.mark.browser
require_chromium()


async def test_a_collector_opens_a_two_loan_borrower_from_an_account_page(
    page: Page, stack: Stack
) -> None:
    borrower_id = f"B-DESK-{uuid.uuid4().hex[:6]}"
    loans = [f"L-DESK-BOR{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2)]
    due = await business_today(stack.env) + timedelta(days=2)
    for loan_id in loans:
        body = account_json(loan_id, due)
        body["borrower"]["id"] = borrower_id
        body["borrower"]["consents"] = {"sms": False, "voice": True}
        stack.started.append(loan_id)
        started = await stack.api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
        assert started.status_code == 201, started.text
    await sleep_until(stack.env, due + timedelta(days=3), hour=10)
    await browser_sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/accounts/{loans[0]}")
    await page.click("#borrower-link")
    await page.wait_for_url(f"{stack.url}/desk/borrowers/{borrower_id}")
    listed = await page.locator("#borrower-loans tbody tr").all_inner_texts()
    assert sorted(row.split("\t")[0] for row in listed) == sorted(loans)
    # Each row as the JSON route answers it (the store's latest snapshot of the loan).
    answer = await stack.api.get(f"/v1/borrowers/{borrower_id}", headers=SUPERVISOR)
    dpds = {loan["loan_id"]: str(loan["dpd"]) for loan in answer.json()["loans"]}
    assert {row.split("\t")[0]: row.split("\t")[2] for row in listed} == dpds
    # The contact authority answered: the counts are the borrower's, across both loans.
    assert (await page.inner_text("#contacts-today")).strip().isdigit()
    assert await page.locator("#borrower-unread").count() == 0
    timeline = await page.inner_text("#borrower-timeline")
    assert loans[0] in timeline and loans[1] in timeline
    await shot(page, "borrower")


async def test_a_collector_releases_a_dispute_hold_from_the_account_page(
    page: Page, stack: Stack
) -> None:
    loan_id = f"L-DESK-REL-{uuid.uuid4().hex[:6]}"
    await start_account(stack, loan_id, 3)
    disputed = await stack.api.post(
        f"/v1/accounts/{loan_id}/disputes",
        json={"reason": "disputes the late fee"},
        headers=SUPERVISOR,
    )
    assert disputed.status_code == 202, disputed.text
    await browser_sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/accounts/{loan_id}")
    await page.fill("#a_release_dispute_notes", "resolved: the fee was waived")
    await page.get_by_role("button", name="Release the hold dispute").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=*")
    assert "release-dispute" in await page.inner_text(".notice")
    assert await page.locator("#form-release-dispute").count() == 0
    status = await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
    assert [h["kind"] for h in status.json()["holds"]] == [], status.json()["holds"]


async def test_an_attorney_and_a_cease_request_reported_from_the_account_page_hold_the_account(
    page: Page, stack: Stack
) -> None:
    loan_id = f"L-DESK-ATT-{uuid.uuid4().hex[:6]}"
    await start_account(stack, loan_id, 3)
    await browser_sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/accounts/{loan_id}")
    # A bad number is the model's refusal, on the attorney's form, the name kept.
    await page.fill("#a_attorney_name", "Zhang Lei")
    await page.fill("#a_attorney_phone", "13700137000x")
    await page.get_by_role("button", name="Report the attorney").click()
    await page.wait_for_selector("#refusal-attorney")
    assert await page.input_value("#a_attorney_name") == "Zhang Lei"
    await page.fill("#a_attorney_phone", "+8613700137000")
    await page.get_by_role("button", name="Report the attorney").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=attorney*")
    await page.fill("#a_cease_notes", "asked by letter")
    await page.get_by_role("button", name="Record the cease request").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=cease-communication*")
    status = await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
    kinds = sorted(h["kind"] for h in status.json()["holds"])
    assert kinds == ["attorney", "cease_communication"], kinds
    # Both are a collector's to end: each has its release button on the page.
    assert await page.locator("#form-release-attorney").count() == 1
    assert await page.locator("#form-release-cease_communication").count() == 1
    await shot(page, "account-holds")
