"""Every contact path through the compliance gate (issue 4 audit): a task's whole window is
allowed, not only its first instant; pausing holds cancel open work; offer letters are gated;
open call tasks count against the caps; and the holds, consents and dead numbers the gate knows
change what the workflow really does."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, local_instant, zone
from store.models import ActionRow, TaskRow
from tests.conftest import COLLECTOR, SUPERVISOR
from tests.workflows.helpers import (
    TZ,
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

LA = "America/Los_Angeles"
NY = "America/New_York"
PHONE_KINDS = {"sms_reminder", "voice_reminder", "call_task", "field_visit"}
CONTACT_KINDS = PHONE_KINDS | {"letter", "lawyer_letter", "restructure_offer", "settlement_offer"}


def utc(value: datetime) -> datetime:
    """The store gives naive UTC instants on SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=zone("UTC"))


def tasks_of(database_url: str, loan: str, kind: str = "call") -> list[dict[str, Any]]:
    rows = store_rows(database_url, TaskRow, loan)
    return sorted((t for t in rows if t["kind"] == kind), key=lambda t: t["action_seq"])


def local_hours(task: dict[str, Any], tz: str) -> tuple[datetime, datetime]:
    return (
        utc(task["not_before"]).astimezone(zone(tz)),
        utc(task["not_after"]).astimezone(zone(tz)),
    )


async def post(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], who: dict[str, str] = COLLECTOR
) -> httpx.Response:
    return await api.post(path, json=body, headers=who)


async def sleep_to(env: WorkflowEnvironment, target: datetime) -> None:
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


def contacts_after(listed: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] in CONTACT_KINDS and instant_of(a) > moment]


# ----------------------------------------------------------------- 1. whole task windows


async def test_call_tasks_lie_wholly_inside_08_to_21_in_the_address_zone_and_the_phones_zone(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Reg F (P9): a Los Angeles address with a New York mobile. The DPD 5 call in the evening
    slot (19:00-21:00 Los Angeles = 22:00-24:00 New York) is refused, and the task it becomes
    is worked only while it is 08:00-21:00 in both zones."""
    loan = "L-PATH-REGF-TASKS"
    due = local_date(await workflow_env.get_current_time(), LA) + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=LA, locale="en-US", phones=[{"kind": "mobile", "number": "+12125550123"}]
    )
    body.update(currency="USD", jurisdiction="US")
    await start(api, body)
    await sleep_to(workflow_env, local_instant(due + timedelta(days=8), time(12), LA))

    calls = tasks_of(database_url, loan)
    assert len(calls) >= 2, calls
    for task in calls:
        for tz in (LA, NY):
            start_at, end_at = local_hours(task, tz)
            assert time(8) <= start_at.time() and end_at.time() <= time(21), (tz, task)
            assert start_at.date() == end_at.date(), (tz, task)
    listed = await actions(api, loan)
    blocked = [
        a
        for a in listed
        if a["kind"] == "contact_blocked" and a["detail"]["step_id_blocked"] == "fe_call_5"
    ]
    assert [b["detail"]["rule"] for b in blocked] == ["us_regf.call_window"]
    # The timeline reads where the account stood when the contact was held back.
    detail = blocked[0]["detail"]
    assert detail["dpd"] == 5 and detail["bucket"] == "M1"
    assert detail["amount_overdue"] and detail["blocked_action"] == "call_task"
    # The blocked call went exactly when the gate said it would.
    [seq] = [
        a["seq"]
        for a in store_rows(database_url, ActionRow, loan)
        if a["kind"] == "call_task" and a["detail"].get("step_id") == "fe_call_5"
    ]
    [moved] = [t for t in calls if t["action_seq"] == seq]
    went = utc(moved["not_before"]) - datetime.fromisoformat(detail["rescheduled_to"])
    assert timedelta(0) <= went < timedelta(seconds=1)


async def test_a_call_task_after_a_hold_ending_at_21_30_in_shanghai_ends_at_22_00(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """P5: the complaint hold ends at 21:30 Shanghai time; the call it held back is issued then,
    and its window stops at 22:00, when cn's quiet hours begin."""
    loan = "L-PATH-CN-HOLD-END"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_to(workflow_env, local_instant(due + timedelta(days=3), time(21, 30), TZ))
    answer = await post(api, f"/v1/accounts/{loan}/complaints", {"reason": "rude collector"})
    assert answer.status_code == 202, answer.text
    await sleep_until(workflow_env, due + timedelta(days=18), hour=12)

    calls = tasks_of(database_url, loan)
    assert calls
    for task in calls:
        start_at, end_at = local_hours(task, TZ)
        assert time(8) <= start_at.time(), task
        assert end_at.time() <= time(22) and start_at.date() == end_at.date(), task


async def test_a_callback_asked_for_21_50_in_shanghai_may_be_worked_only_until_22_00(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-PATH-CN-CALLBACK"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [task] = [t for t in tasks_of(database_url, loan) if t["status"] == "open"]
    at = local_instant(due + timedelta(days=2), time(21, 50), TZ)
    answer = await post(
        api,
        f"/v1/tasks/{task['task_id']}/outcome",
        {"outcome": "callback_requested", "at": at.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    await workflow_env.sleep(timedelta(minutes=1))

    [callback] = [t for t in tasks_of(database_url, loan) if t["status"] == "open"]
    assert utc(callback["not_before"]) == at
    assert utc(callback["not_after"]) == local_instant(due + timedelta(days=2), time(22), TZ)


# --------------------------------------------------------------- 3. offers through the gate


async def test_no_restructure_offer_while_the_borrower_is_represented_by_an_attorney(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """P3: a long-term hardship during an attorney hold would mail the offer to the borrower;
    it is refused (409) instead, and no offer goes out."""
    loan = "L-PATH-ATTORNEY-OFFER"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=5), hour=12)
    held = await post(
        api, f"/v1/accounts/{loan}/attorney", {"name": "Zhang Lei", "phone": "+8613700137000"}
    )
    assert held.status_code == 202, held.text
    since = await workflow_env.get_current_time()
    answer = await post(
        api,
        f"/v1/accounts/{loan}/hardship",
        {"cause": "job lost", "term": "long", "surmountable": True},
    )
    assert answer.status_code == 409, answer.text
    assert "attorney" in answer.text
    await sleep_until(workflow_env, due + timedelta(days=40), hour=12)
    listed = contacts_after(await actions(api, loan), since)
    # Only the attorney is called (patch arrears-4-attorney-contact); the borrower hears nothing.
    assert listed and {(a["kind"], a["detail"]["to"], a["detail"]["party"]) for a in listed} == {
        ("call_task", "+8613700137000", "attorney")
    }


# --------------------------------------------------------------- 4. who may end a hold


async def test_only_a_supervisor_may_end_a_bankruptcy_stay_or_a_deceased_hold(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-RELEASE-ROLES"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    for path in ("bankruptcy", "deceased"):
        answer = await post(api, f"/v1/accounts/{loan}/{path}", {"reported_by": "court"})
        assert answer.status_code == 202, answer.text
    answer = await post(api, f"/v1/accounts/{loan}/disputes", {"reason": "fee"})
    assert answer.status_code == 202, answer.text

    for kind in ("bankruptcy", "deceased"):
        refused = await post(api, f"/v1/accounts/{loan}/holds/{kind}/release", {})
        assert refused.status_code == 403, refused.text
    released = await post(api, f"/v1/accounts/{loan}/holds/dispute/release", {})
    assert released.status_code == 202, released.text
    by_supervisor = await post(
        api, f"/v1/accounts/{loan}/holds/bankruptcy/release", {}, who=SUPERVISOR
    )
    assert by_supervisor.status_code == 202, by_supervisor.text
    assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["deceased"]


# ----------------------------------------------------------- 5. open tasks count in caps


async def test_us_ma_texts_and_open_call_tasks_together_stay_within_two_in_seven_days(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Massachusetts: at most 2 phone contacts (texts included) in 7 days. A call task that is
    open may be worked at any moment of its window, so it counts from its `not_before` until
    its outcome replaces it (the exact SMS, open call, SMS case is proved in
    tests/unit/contact/test_task_windows.py)."""
    loan = "L-PATH-US-MA"
    tz = "America/New_York"
    due = local_date(await workflow_env.get_current_time(), tz) + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=tz, locale="en-US", phones=[{"kind": "mobile", "number": "+16175550123"}]
    )
    body.update(currency="USD", jurisdiction="US-MA")
    await start(api, body)
    await sleep_to(workflow_env, local_instant(due + timedelta(days=30), time(12), tz))

    listed = await actions(api, loan)
    texts = [instant_of(a) for a in listed if a["kind"] == "sms_reminder"]
    calls = tasks_of(database_url, loan)
    for sent in texts:
        day = local_date(sent, tz)
        recent = [t for t in texts if t <= sent and (day - local_date(t, tz)).days < 7]
        # call tasks open when the text went, whose window lies within 7 days of it
        open_calls = [
            c
            for c in calls
            if utc(c["created_at"]) <= sent
            and (c["closed_at"] is None or utc(c["closed_at"]) > sent)
            and abs((local_date(utc(c["not_before"]), tz) - day).days) < 7
        ]
        assert len(recent) + len(open_calls) <= 2, (sent, texts, calls)
    held = {
        a["detail"]["blocked_action"]
        for a in listed
        if a["kind"] == "contact_blocked" and a["detail"]["rule"] == "us_ma.two_in_seven"
    }
    assert "call_task" in held, [(a["kind"], a["detail"]) for a in listed]


# ------------------------------------------------------- 8. behaviour the gate already has


async def test_a_deceased_borrower_is_never_contacted_again(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-PATH-DECEASED"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    answer = await post(api, f"/v1/accounts/{loan}/deceased", {"reported_by": "the spouse"})
    assert answer.status_code == 202, answer.text
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=60), hour=12)
    borrower_contacts = [
        a
        for a in contacts_after(await actions(api, loan), since)
        if a["kind"] != "settlement_offer"
    ]
    assert borrower_contacts == []
    assert [t["status"] for t in tasks_of(database_url, loan)] == ["cancelled"]


async def test_cease_communication_stops_every_call_text_and_visit(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-CEASE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)
    answer = await post(api, f"/v1/accounts/{loan}/cease-communication", {})
    assert answer.status_code == 202, answer.text
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=60), hour=12)
    assert contacts_after(await actions(api, loan), since) == []


async def test_an_attorney_hold_stops_contact_with_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-ATTORNEY"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)
    answer = await post(
        api, f"/v1/accounts/{loan}/attorney", {"name": "Zhang Lei", "phone": "+8613700137000"}
    )
    assert answer.status_code == 202, answer.text
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=40), hour=12)
    listed = contacts_after(await actions(api, loan), since)
    # Only the attorney is called (patch arrears-4-attorney-contact); the borrower hears nothing.
    assert listed and {(a["kind"], a["detail"]["to"], a["detail"]["party"]) for a in listed} == {
        ("call_task", "+8613700137000", "attorney")
    }
    assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["attorney"]


async def test_voice_consent_withdrawn_by_a_collector_blocks_voice_reminders_not_calls(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-VOICE-CONSENT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due, segment="subprime"))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=7)
    answer = await post(api, f"/v1/accounts/{loan}/contact-info", {"consents": {"voice": False}})
    assert answer.status_code == 202, answer.text
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=12), hour=12)
    listed = [a for a in await actions(api, loan) if instant_of(a) > since]
    kinds = [a["kind"] for a in listed]
    assert "voice_reminder" not in kinds and "call_task" in kinds
    assert {
        a["detail"]["rule"]
        for a in listed
        if a["kind"] == "contact_blocked" and a["detail"]["blocked_action"] == "voice_reminder"
    } == {"consent.voice"}


async def test_stacked_holds_keep_collection_paused_until_the_last_one_ends(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-STACKED"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    for path in ("disputes", "complaints"):
        answer = await post(api, f"/v1/accounts/{loan}/{path}", {"reason": "x"})
        assert answer.status_code == 202, answer.text
    released = await post(api, f"/v1/accounts/{loan}/holds/dispute/release", {})
    assert released.status_code == 202, released.text
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=16), hour=12)
    # The complaint (14 days) still holds after the dispute was resolved.
    assert contacts_after(await actions(api, loan), since) == []
    await sleep_until(workflow_env, due + timedelta(days=20), hour=12)
    assert contacts_after(await actions(api, loan), since + timedelta(days=14))
    assert (await status(api, loan))["holds"] == []


async def test_a_stop_reply_still_holds_after_the_workflow_continued_as_new(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """The ledger (and the STOP in it) travels across continue-as-new: the mid-range SMS at
    DPD 35, in the second run, is still refused."""
    loan = "L-PATH-STOP-CAN"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    number = body["borrower"]["phones"][0]["number"]
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=1), hour=7)
    stopped = await signal_contact_event(workflow_env, loan, "consent_revoked", number)
    await sleep_until(workflow_env, due + timedelta(days=40), hour=12)
    described = await workflow_env.client.get_workflow_handle(f"account-{loan}").describe()
    assert described.run_id != described.raw_description.workflow_execution_info.first_run_id
    listed = await actions(api, loan)
    assert [a for a in listed if a["kind"] == "sms_reminder" and instant_of(a) > stopped] == []
    blocked = {
        a["detail"]["step_id_blocked"]: a["detail"]["rule"]
        for a in listed
        if a["kind"] == "contact_blocked"
    }
    assert blocked.get("mr_sms_35") == "consent.sms", blocked


async def test_a_field_visit_in_china_is_a_task_for_two_agents(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-PATH-VISIT-AGENTS"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=23), hour=12)
    visits = tasks_of(database_url, loan, "field_visit")
    assert visits, store_rows(database_url, TaskRow, loan)
    assert all(v["detail"]["agents"] == 2 for v in visits)


# ------------------------------------------------------------ 9. delivery failures


async def test_after_a_number_is_reported_dead_texts_and_calls_go_to_another_number(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-PATH-DEAD-NUMBER"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    dead, other = "+8613800138000", "+8613900139001"
    body["borrower"]["phones"] = [
        {"kind": "mobile", "number": dead},
        {"kind": "mobile", "number": other},
    ]
    await start(api, body)
    await sleep_until(workflow_env, due, hour=7)
    # What the status webhook sends after Twilio reports 21211 (invalid number).
    since = await signal_contact_event(workflow_env, loan, "number_dead", dead)
    await sleep_until(workflow_env, due + timedelta(days=16), hour=12)
    later = [a for a in await actions(api, loan) if instant_of(a) > since]
    phoned = [a for a in later if a["kind"] in ("sms_reminder", "call_task")]
    assert phoned
    assert {a["detail"]["to"] for a in phoned} == {other}
    assert all(t["detail"]["to"] == other for t in tasks_of(database_url, loan))


async def test_when_the_only_number_is_dead_texts_are_blocked_and_the_account_is_a_skip(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PATH-ONLY-NUMBER-DEAD"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    number = body["borrower"]["phones"][0]["number"]
    await start(api, body)
    await sleep_until(workflow_env, due, hour=7)
    since = await signal_contact_event(workflow_env, loan, "number_dead", number)
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    later = [a for a in await actions(api, loan) if instant_of(a) > since]
    assert not [a for a in later if a["kind"] in ("sms_reminder", "call_task")]
    rules = {a["detail"]["rule"] for a in later if a["kind"] == "contact_blocked"}
    assert rules == {"number.none_reachable"}, rules
