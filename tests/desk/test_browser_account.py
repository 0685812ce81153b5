"""The account page's own flows in a real browser (issue 15), against real workflows: the
instalments, a note written and listed newest first (and on the timeline), a hardship reported
beside the outcome form, a restructure offer answered from the page (the form shown only while
an offer is open), and a refusal of the workflow's validator shown on the form it came from with
everything typed kept. The stack, the browser and the preambles are tests/desk/conftest.py's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.async_api import Page

from tests.conftest import SUPERVISOR
from tests.desk.conftest import Stack, browser_sign_in, require_chromium, shot, start_account

pytestmark = pytest.mark.browser
require_chromium()


async def open_account(page: Page, stack: Stack, prefix: str, dpd: int, **history: object) -> str:
    """A fresh account `dpd` days past due, its page open for alice (a collector)."""
    loan_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await start_account(stack, loan_id, dpd, **history)
    await browser_sign_in(page, stack)
    await page.goto(f"{stack.url}/desk/accounts/{loan_id}")
    return loan_id


async def test_a_collector_writes_a_note_and_it_is_listed_newest_first_and_on_the_timeline(
    page: Page, stack: Stack
) -> None:
    loan_id = await open_account(page, stack, "L-DESK-NOTE", 3)
    # The schedule from the workflow's status query: paid, outstanding and its own DPD.
    [row] = await page.locator("#instalments tbody tr").all_inner_texts()
    assert row.split("\t")[2:] == ["1200.00 CNY", "0.00 CNY", "1200.00 CNY", "3"], row
    for text in ("Wrong number on file; try the office.", "Says she is abroad until the 20th."):
        await page.fill("#note_text", text)
        await page.get_by_role("button", name="Save the note").click()
        await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=note")
    notes = await page.locator("#notes tbody tr").all_inner_texts()
    assert "Says she is abroad until the 20th." in notes[0] and "alice (collector)" in notes[0]
    assert "Wrong number on file" in notes[1]
    timeline = await page.inner_text("#timeline")
    assert "note by alice (collector): Says she is abroad until the 20th." in timeline
    listed = await stack.api.get(f"/v1/accounts/{loan_id}/notes", headers=SUPERVISOR)
    assert [n["author"] for n in listed.json()] == ["alice", "alice"]
    await shot(page, "account")


async def test_a_hardship_reported_from_the_account_page_gives_the_grace_period(
    page: Page, stack: Stack
) -> None:
    loan_id = await open_account(page, stack, "L-DESK-HARD", 3)
    await page.fill("#a_hardship_cause", "in hospital for a week")
    await page.select_option("#a_hardship_term", "short")
    await page.check("input[name=hardship_surmountable]")
    await page.get_by_role("button", name="Report the hardship").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=*")
    notice = await page.get_by_role("status").inner_text()
    assert "hardship: short-term hardship: grace until" in notice, notice
    status = (await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)).json()
    assert [h["kind"] for h in status["holds"]] == ["grace"]


async def test_an_open_restructure_offer_is_answered_from_the_account_page(
    page: Page, stack: Stack
) -> None:
    # A recurring delinquent is eligible at DPD 5; a long-term hardship makes the offer.
    loan_id = await open_account(page, stack, "L-DESK-RESTR", 5, prior_delinquencies=2)
    assert await page.locator("#form-restructure").count() == 0  # no offer yet
    await page.fill("#a_hardship_cause", "lost the job for good")
    await page.select_option("#a_hardship_term", "long")
    await page.check("input[name=hardship_surmountable]")
    await page.get_by_role("button", name="Report the hardship").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=*")
    assert "restructuring offered" in await page.get_by_role("status").inner_text()
    await stack.env.sleep(timedelta(minutes=5))  # the child computes the offer
    await page.goto(f"{stack.url}/desk/accounts/{loan_id}")
    plan = await page.inner_text("#restructure-plan")
    assert "Restructure offer, open" in plan and "open through" in plan
    assert await page.locator("#plan-instalments tbody tr").count() >= 2
    await shot(page, "account-offer")

    await page.select_option("#restructure_decision", "accept")
    await page.check("input[name=restructure_conversation]")
    await page.get_by_role("button", name="Record the answer").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=*")
    assert "restructure: accept" in await page.get_by_role("status").inner_text()
    await stack.env.sleep(timedelta(minutes=5))
    await page.goto(f"{stack.url}/desk/accounts/{loan_id}")
    assert "Restructure plan, accepted" in await page.inner_text("#restructure-plan")
    assert await page.locator("#form-restructure").count() == 0  # nothing left to answer
    replaced = await page.locator("#replaced-instalments tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in replaced] == ["7"]
    status = (await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)).json()
    assert status["state"] == "restructured" and status["restructure"]["stage"] == "accepted"


async def test_a_refused_action_is_shown_on_its_form_and_nothing_typed_is_lost(
    page: Page, stack: Stack
) -> None:
    loan_id = await open_account(page, stack, "L-DESK-REFUSE", 5, prior_delinquencies=2)
    await page.fill("#a_bankruptcy_reported_by", "the borrower's lawyer, by letter")
    await page.get_by_role("button", name="Report the bankruptcy").click()
    await page.wait_for_url(f"{stack.url}/desk/accounts/{loan_id}?notice=*")
    # During the automatic stay no restructure offer may be made: the workflow's validator
    # refuses the long-term hardship (409) and the page says why on the hardship form.
    await page.fill("#a_hardship_cause", "lost the job for good")
    await page.select_option("#a_hardship_term", "long")
    await page.check("input[name=hardship_surmountable]")
    await page.fill("#a_hardship_notes", "wants to pay over a year")
    await page.get_by_role("button", name="Report the hardship").click()
    refusal = page.locator("#refusal-hardship")
    await refusal.wait_for()
    text = await refusal.inner_text()
    assert "bankruptcy hold is active" in text, text
    assert await page.input_value("#a_hardship_cause") == "lost the job for good"
    assert await page.input_value("#a_hardship_term") == "long"
    assert await page.is_checked("input[name=hardship_surmountable]")
    assert await page.input_value("#a_hardship_notes") == "wants to pay over a year"
    await shot(page, "account-refused-action")
    status = (await stack.api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)).json()
    assert [h["kind"] for h in status["holds"]] == ["bankruptcy"] and status["restructure"] is None
