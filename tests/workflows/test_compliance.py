"""The compliance gate inside the AccountWorkflow (issue 4): holds stop what they forbid at once,
STOP ends texts but not calls, a dispute pauses collection until it is resolved, and a contact
the rules refuse is moved to the earliest allowed moment and recorded as `contact_blocked`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, zone
from store.models import TaskRow
from tests.conftest import COLLECTOR, NameHolidays
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    instant_of,
    signal_contact_event,
    sleep_until,
    start,
    status,
    store_rows,
)

CONTACT_KINDS = {
    "sms_reminder",
    "voice_reminder",
    "call_task",
    "letter",
    "lawyer_letter",
    "field_visit",
    "restructure_offer",
    "settlement_offer",
}


def contacts_after(listed: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] in CONTACT_KINDS and instant_of(a) > moment]


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await api.post(path, json=body, headers=COLLECTOR)


async def test_bankruptcy_reported_mid_stage_stops_every_contact_and_cancels_open_tasks(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-GATE-BANKRUPT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    # DPD 2: the first call task exists and is open.
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    before = {t["task_id"]: t["status"] for t in store_rows(database_url, TaskRow, loan)}
    assert list(before.values()) == ["open"]

    reported = await workflow_env.get_current_time()
    answer = await post(api, f"/v1/accounts/{loan}/bankruptcy", {"reported_by": "court notice"})
    assert answer.status_code == 202, answer.text
    await sleep_until(workflow_env, due + timedelta(days=100))

    listed = await actions(api, loan)
    assert contacts_after(listed, reported) == []
    tasks = store_rows(database_url, TaskRow, loan)
    assert [t["status"] for t in tasks if t["kind"] == "call"] == ["cancelled"]
    # The write-off subflow asks the anti-fraud team to verify (section 8): work, not contact.
    assert {t["kind"] for t in tasks} == {"call", "verification"}
    holds = (await status(api, loan))["holds"]
    assert [h["kind"] for h in holds] == ["bankruptcy"]
    assert holds[0]["until"] is None


async def test_stop_revokes_sms_consent_texts_are_blocked_and_calls_continue(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-GATE-STOP"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    number = body["borrower"]["phones"][0]["number"]
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=1), hour=7)
    # What the Twilio inbound webhook sends after a STOP reply.
    stopped = await signal_contact_event(workflow_env, loan, "consent_revoked", number)
    await sleep_until(workflow_env, due + timedelta(days=16))

    listed = [a for a in await actions(api, loan) if instant_of(a) > stopped]
    kinds = [a["kind"] for a in listed]
    assert "sms_reminder" not in kinds
    assert "call_task" in kinds
    blocked = [a for a in listed if a["kind"] == "contact_blocked"]
    consent_blocked = {
        a["detail"]["blocked_action"] for a in blocked if a["detail"]["rule"] == "consent.sms"
    }
    assert consent_blocked == {"sms_reminder"}
    assert {
        a["detail"]["rule"] for a in blocked if a["detail"]["blocked_action"] == "sms_reminder"
    } == {"consent.sms"}


async def test_dispute_pauses_collection_until_resolved_then_the_ladder_resumes(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-GATE-DISPUTE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [task] = [t for t in store_rows(database_url, TaskRow, loan) if t["status"] == "open"]
    answer = await post(api, f"/v1/accounts/{loan}/disputes", {"reason": "fee disputed"})
    assert answer.status_code == 202, answer.text
    disputed = await workflow_env.get_current_time()
    assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["dispute"]
    # The open call would be a collection call during the dispute: it is cancelled, and an
    # outcome posted to it afterwards is refused.
    await workflow_env.sleep(timedelta(minutes=1))
    rows = {t["task_id"]: t["status"] for t in store_rows(database_url, TaskRow, loan)}
    assert rows[task["task_id"]] == "cancelled"
    late = await post(
        api,
        f"/v1/tasks/{task['task_id']}/outcome",
        {"outcome": "no_answer"},
    )
    assert late.status_code == 409, late.text

    await sleep_until(workflow_env, due + timedelta(days=12), hour=12)
    assert contacts_after(await actions(api, loan), disputed) == []
    released = await post(api, f"/v1/accounts/{loan}/holds/dispute/release", {"notes": "ok"})
    assert released.status_code == 202, released.text
    resolved = await workflow_env.get_current_time()
    again = await post(api, f"/v1/accounts/{loan}/holds/dispute/release", {})
    assert again.status_code == 409, again.text

    await sleep_until(workflow_env, due + timedelta(days=16), hour=12)
    resumed = contacts_after(await actions(api, loan), resolved)
    assert resumed, "the ladder resumes by itself once the dispute is resolved"
    assert (await status(api, loan))["holds"] == []


async def test_a_complaint_hold_ends_by_itself_after_the_strategys_days(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-GATE-COMPLAINT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    answer = await post(api, f"/v1/accounts/{loan}/complaints", {"reason": "rude collector"})
    assert answer.status_code == 202, answer.text
    complained = await workflow_env.get_current_time()
    hold = (await status(api, loan))["holds"][0]
    ends = datetime.fromisoformat(hold["until"]) - complained
    assert abs(ends - timedelta(days=14)) < timedelta(seconds=1)

    await sleep_until(workflow_env, due + timedelta(days=16), hour=12)
    during = [
        a
        for a in contacts_after(await actions(api, loan), complained)
        if instant_of(a) < complained + timedelta(days=14)
    ]
    assert during == []
    await sleep_until(workflow_env, due + timedelta(days=20), hour=12)
    assert contacts_after(await actions(api, loan), complained + timedelta(days=14))
    assert (await status(api, loan))["holds"] == []


async def test_texts_wait_until_the_window_holds_in_the_phones_zone_as_well_as_the_address(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """Reg F: a Los Angeles mobile with a New York address may not be texted at 08:00 New York
    time (05:00 in Los Angeles); the text goes at 08:00 Los Angeles time instead."""
    loan = "L-GATE-REGF-ZONES"
    tz = "America/New_York"
    today = local_date(await workflow_env.get_current_time(), tz)
    due = today + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=tz,
        locale="en-US",
        phones=[{"kind": "mobile", "number": "+12135550123"}],
    )
    body.update(currency="USD", jurisdiction="US")
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)

    listed = await actions(api, loan)
    texts = [a for a in listed if a["kind"] == "sms_reminder"]
    assert texts, listed
    for text in texts:
        local = instant_of(text).astimezone(zone("America/Los_Angeles"))
        assert 8 <= local.hour < 21, text
    blocked = [a for a in listed if a["kind"] == "contact_blocked"]
    assert blocked and blocked[0]["detail"]["rule"] == "us_regf.call_window"
    assert all(t["detail"].get("opt_out_text") for t in texts)


async def test_no_letter_is_dispatched_on_a_chinese_public_holiday(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    name_holidays: NameHolidays,
) -> None:
    """The reminder letter falls due at DPD 7, the first of a two-day festival that this test
    names in its own calendar: it is refused on both days and sent at the start of the next."""
    loan = "L-GATE-HOLIDAY"
    due = await business_today(workflow_env) + timedelta(days=2)
    festival = [due + timedelta(days=7), due + timedelta(days=8)]
    name_holidays({"CN": {day: "Test Festival" for day in festival}})
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=12), hour=12)

    listed = await actions(api, loan)
    letters = [a for a in listed if a["kind"] == "letter"]
    assert [local_date(instant_of(a), "Asia/Shanghai") for a in letters] == [
        due + timedelta(days=9)
    ]
    assert letters[0]["detail"]["rescheduled_by"] == "holiday.letter"
    blocked = [a for a in listed if a["kind"] == "contact_blocked"]
    assert [a["detail"]["rule"] for a in blocked] == ["holiday.letter"], blocked
    assert "Test Festival" in blocked[0]["detail"]["reason"]
