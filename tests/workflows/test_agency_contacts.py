"""Contacts the AccountWorkflow learns of from outside its own tasks (issue 4, audit G5 and G6):
an agency's daily contact file joins the contact ledger, so the caps count our collectors and
the agencies together; the agency the account is placed with is told to stop while a hold that
binds every collector lasts, and to resume when it ends; a promise made on the phone is a
telephone conversation, so Regulation F's 7-day pause starts from it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, local_instant
from tests.agencies.conftest import add_agency
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    TZ,
    account_json,
    actions,
    business_today,
    instant_of,
    sleep_until,
    start,
    status,
)

MOBILE = "+8613800138000"


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    return local_instant(day, time(hour, minute), TZ)


def agency_call(contact_id: str, at: datetime, result: str = "connected") -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "agency_id": "AG-HUATAI",
        "at": at.isoformat(),
        "channel": "call",
        "number": MOBILE,
        "result": result,
    }


async def report(
    api: httpx.AsyncClient, loan: str, contacts: list[dict[str, Any]], who: dict[str, str]
) -> httpx.Response:
    return await api.post(
        f"/v1/accounts/{loan}/agency-contacts", json={"contacts": contacts}, headers=who
    )


def of_kind(listed: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] == kind]


async def test_three_connected_agency_calls_today_block_our_next_call_until_08_00_tomorrow(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """cn: at most 3 connected calls per borrower per day, our collectors and agencies
    together. The agency talked to the borrower three times this morning, so the DPD 2 call
    task (10:00 slot) is refused and waits for 08:00 tomorrow."""
    loan = "L-AGENCY-CAP"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    day = due + timedelta(days=2)
    await sleep_until(workflow_env, day, hour=9)

    calls = [agency_call(f"HT-{i}", shanghai(day, 8, 10 * i)) for i in range(1, 4)]
    # The file repeats a contact: it counts once.
    answer = await report(api, loan, [*calls, calls[0]], LOAN_SYSTEM)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": True, "loan_id": loan, "recorded": 3, "duplicates": 1}
    # The same file relayed again by a supervisor adds nothing.
    again = await report(api, loan, calls, SUPERVISOR)
    assert again.status_code == 202, again.text
    assert (again.json()["recorded"], again.json()["duplicates"]) == (0, 3)

    await sleep_until(workflow_env, day, hour=12)
    listed = await actions(api, loan)
    [learned] = of_kind(listed, "agency_contacts")
    assert learned["detail"]["recorded"] == 3
    assert learned["detail"]["by_result"] == {"call/connected": 3}
    blocked = [
        a
        for a in of_kind(listed, "contact_blocked")
        if a["detail"]["step_id_blocked"] == "fe_call_2"
    ]
    assert [b["detail"]["rule"] for b in blocked] == ["cn.connected_calls_per_day"], blocked
    tomorrow_8 = shanghai(day + timedelta(days=1), 8)
    assert datetime.fromisoformat(blocked[0]["detail"]["rescheduled_to"]) == tomorrow_8
    assert [a for a in of_kind(listed, "call_task") if local_date(instant_of(a), TZ) == day] == []

    await sleep_until(workflow_env, day + timedelta(days=1), hour=9)
    [call] = [a for a in of_kind(await actions(api, loan), "call_task")]
    assert call["detail"]["step_id"] == "fe_call_2"
    assert tomorrow_8 <= instant_of(call) < tomorrow_8 + timedelta(seconds=1)


async def test_agency_contacts_are_checked_before_they_reach_the_ledger(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-AGENCY-BAD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    now = await workflow_env.get_current_time()

    future = await report(api, loan, [agency_call("F-1", now + timedelta(hours=1))], LOAN_SYSTEM)
    assert future.status_code == 422, future.text
    assert "future" in future.json()["error"]["message"]

    no_number = {**agency_call("N-1", now), "number": None}
    answer = await report(api, loan, [no_number], LOAN_SYSTEM)
    assert answer.status_code == 422
    assert "needs the number" in answer.json()["error"]["message"]

    wrong_result = {**agency_call("R-1", now), "result": "visited"}
    answer = await report(api, loan, [wrong_result], LOAN_SYSTEM)
    assert answer.status_code == 422
    assert "cannot have result 'visited'" in answer.json()["error"]["message"]

    letter_with_number = {**agency_call("L-1", now, "sent"), "channel": "letter"}
    assert (await report(api, loan, [letter_with_number], LOAN_SYSTEM)).status_code == 422
    naive = {**agency_call("T-1", now), "at": now.replace(tzinfo=None).isoformat()}
    assert (await report(api, loan, [naive], LOAN_SYSTEM)).status_code == 422
    assert (await report(api, loan, [], LOAN_SYSTEM)).status_code == 422

    assert (await report(api, loan, [agency_call("C-1", now)], COLLECTOR)).status_code == 403
    unknown = await report(api, "L-NOBODY", [agency_call("U-1", now)], LOAN_SYSTEM)
    assert unknown.status_code == 404

    visit = {
        "contact_id": "V-1",
        "agency_id": "AG-HUATAI",
        "at": now.isoformat(),
        "channel": "field_visit",
        "result": "not_met",
    }
    fine = await report(api, loan, [visit], LOAN_SYSTEM)
    assert fine.status_code == 202, fine.text
    assert fine.json()["recorded"] == 1


async def test_a_dispute_before_placement_tells_no_agency(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-AGENCY-NONE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    await hold(workflow_env, api, loan, "disputes", {"reason": "says the fee is wrong"})
    await hold(workflow_env, api, loan, "holds/dispute/release", {"notes": "explained"})
    listed = await actions(api, loan)
    assert of_kind(listed, "hold_released"), listed
    assert of_kind(listed, "oca_hold_notice") == of_kind(listed, "oca_resume_notice") == []


async def test_holds_while_placed_tell_the_agency_to_stop_and_their_end_to_resume(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """A dispute and a complaint bind whoever collects: the agency gets an `oca_hold_notice`
    for each, and an `oca_resume_notice` when each ends (released, or the complaint's days run
    out), saying what still holds and whether it may resume."""
    loan = "L-AGENCY-HOLDS"
    agency = add_agency(database_url, "Huatai Recovery")
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    assert (await status(api, loan))["agency"] == "Huatai Recovery"

    await hold(workflow_env, api, loan, "disputes", {"reason": "says the fee is wrong"})
    await hold(workflow_env, api, loan, "complaints", {"reason": "the agency called at work"})
    [dispute, complaint] = of_kind(await actions(api, loan), "oca_hold_notice")
    for notice, kind in ((dispute, "dispute"), (complaint, "complaint")):
        assert notice["channel"] == "agency"
        assert notice["status"] == "sent", notice  # the agency channel took it
        assert notice["detail"]["hold"] == kind
        assert notice["detail"]["agency_id"] == agency.agency_id
        assert notice["detail"]["delivery"]["notice"] == "stop collecting"
    assert complaint["detail"]["still_on_hold"] == ["dispute"]
    assert complaint["detail"]["hold_until"] is not None

    await hold(workflow_env, api, loan, "holds/dispute/release", {"notes": "fee explained"})
    [resumed] = of_kind(await actions(api, loan), "oca_resume_notice")
    assert resumed["status"] == "sent"
    assert resumed["detail"]["hold"] == "dispute"
    assert resumed["detail"]["still_on_hold"] == ["complaint"]
    assert resumed["detail"]["may_resume"] is False

    # The complaint hold ends by itself after the strategy's 14 days.
    await sleep_until(workflow_env, due + timedelta(days=61 + 15), hour=12)
    [_, ended] = of_kind(await actions(api, loan), "oca_resume_notice")
    assert ended["status"] == "sent"
    assert ended["detail"]["hold"] == "complaint"
    assert ended["detail"]["may_resume"] is True
    assert ended["detail"]["still_on_hold"] == []
    assert instant_of(ended) >= datetime.fromisoformat(complaint["detail"]["hold_until"])


async def hold(
    env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str, path: str, body: dict[str, Any]
) -> None:
    answer = await api.post(f"/v1/accounts/{loan}/{path}", json=body, headers=COLLECTOR)
    assert answer.status_code == 202, answer.text
    await env.sleep(timedelta(minutes=1))


NEW_YORK = "America/New_York"


async def sleep_until_ny(env: WorkflowEnvironment, day: date, hour: int) -> None:
    target = local_instant(day, time(hour), NEW_YORK)
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


async def test_a_promise_made_on_the_phone_starts_reg_fs_seven_day_pause_on_calls(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """us-regf: no call for 7 days after a telephone conversation, the conversation day being
    day 1. The borrower promised on the phone on day D (`conversation: true`) and broke the
    promise; the ladder resumes, but the DPD 5 call (day D+4) waits for D+7 08:00."""
    loan = "L-REGF-PHONE-PROMISE"
    today = local_date(await workflow_env.get_current_time(), NEW_YORK)
    due = today + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=NEW_YORK, locale="en-US", phones=[{"kind": "mobile", "number": "+12125550123"}]
    )
    body.update(currency="USD", jurisdiction="US")
    await start(api, body)

    talked = due + timedelta(days=1)  # D: DPD 1
    await sleep_until_ny(workflow_env, talked, hour=12)
    made = await api.post(
        f"/v1/accounts/{loan}/promises",
        json={
            "amount": "1200.00",
            "promised_date": (talked + timedelta(days=1)).isoformat(),
            "conversation": True,
        },
        headers=COLLECTOR,
    )
    assert made.status_code == 201, made.text

    await sleep_until_ny(workflow_env, talked + timedelta(days=8), hour=9)
    listed = await actions(api, loan)
    assert (await status(api, loan))["broken_promises"] == 1
    calls = of_kind(listed, "call_task")
    assert calls, listed
    day_8 = talked + timedelta(days=7)
    pause_ends = local_instant(day_8, time(8), NEW_YORK)
    # The broken promise's follow-up call (the playbook's priority) is created when the promise
    # breaks, inside the pause, so the gate moves its window to the pause's end; every other
    # call task is created on day D+7 or later. No call can be worked before D+7 08:00.
    early = [c for c in calls if local_date(instant_of(c), NEW_YORK) < day_8]
    assert all(c["detail"].get("broken_promise") for c in early), early
    assert all(c["detail"]["rescheduled_by"] == "us_regf.after_conversation" for c in early)
    windows: dict[str, dict[str, Any]] = {}
    for state in ("open", "done", "expired", "cancelled"):
        listing = await api.get(
            "/v1/tasks",
            params={"kind": "call", "status": state, "include_future": "true"},
            headers=SUPERVISOR,
        )
        assert listing.status_code == 200, listing.text
        windows.update({t["task_id"]: t for t in listing.json()})
    assert {c["detail"]["task_id"] for c in early} <= set(windows), (early, windows)
    for call in calls:
        task = windows.get(call["detail"]["task_id"])
        if task is not None:
            assert datetime.fromisoformat(task["not_before"]) >= pause_ends, task
    ladder_calls = [c for c in calls if not c["detail"].get("broken_promise")]
    assert local_date(instant_of(ladder_calls[0]), NEW_YORK) == day_8
    paused = [
        a
        for a in of_kind(listed, "contact_blocked")
        if a["detail"]["rule"] == "us_regf.after_conversation"
    ]
    assert paused, of_kind(listed, "contact_blocked")
    assert datetime.fromisoformat(paused[0]["detail"]["rescheduled_to"]) == local_instant(
        day_8, time(8), NEW_YORK
    )


async def test_a_number_without_a_conversation_is_refused(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PROMISE-NUMBER"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    answer = await api.post(
        f"/v1/accounts/{loan}/promises",
        json={"amount": "100.00", "promised_date": due.isoformat(), "number": MOBILE},
        headers=COLLECTOR,
    )
    assert answer.status_code == 422, answer.text


async def test_a_hardship_told_on_the_phone_also_starts_reg_fs_seven_day_pause(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """The same rule through the hardship endpoint: a long-term hardship the borrower explained
    on the phone on day D; no call task before D+7 08:00 New York."""
    loan = "L-REGF-PHONE-HARDSHIP"
    today = local_date(await workflow_env.get_current_time(), NEW_YORK)
    due = today + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=NEW_YORK, locale="en-US", phones=[{"kind": "mobile", "number": "+12125550123"}]
    )
    body.update(currency="USD", jurisdiction="US")
    await start(api, body)

    talked = due + timedelta(days=1)
    await sleep_until_ny(workflow_env, talked, hour=12)
    hardship = {"cause": "lost job", "term": "long", "surmountable": False}
    refused = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={**hardship, "number": "+12125550123"},
        headers=COLLECTOR,
    )
    assert refused.status_code == 422, refused.text
    told = await api.post(
        f"/v1/accounts/{loan}/hardship", json={**hardship, "conversation": True}, headers=COLLECTOR
    )
    assert told.status_code == 202, told.text

    await sleep_until_ny(workflow_env, talked + timedelta(days=8), hour=9)
    listed = await actions(api, loan)
    day_8 = talked + timedelta(days=7)
    calls = of_kind(listed, "call_task")
    assert [c for c in calls if local_date(instant_of(c), NEW_YORK) < day_8] == []
    paused = [
        a
        for a in of_kind(listed, "contact_blocked")
        if a["detail"]["rule"] == "us_regf.after_conversation"
    ]
    assert paused, of_kind(listed, "contact_blocked")
