"""Delivery failures teach the AccountWorkflow (issue 6, audit G7), on the time-skipping server
with every SMS going through the real Twilio SDK to the sandbox gateway.

The policy (domain/contact/delivery.py, patch `arrears-4-delivery-failures`):
- 21211 invalid number, 30005 unknown destination: the number is dead; texts and calls go to
  another number, or are blocked (`number.none_reachable`) when none is left;
- 21614 not a mobile number, 30006 landline or unreachable carrier: the number takes no texts
  (`number.no_sms`); calls to it continue;
- anything else (30003 unreachable handset, 30008 unknown): temporary; three undelivered texts in
  a row to one number mean no more texts to it, until a contact-info update lists it again;
- every verdict is a `delivery_failure` action (the account's actions and timeline show it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from twilio.request_validator import RequestValidator

from core.settings import Settings
from store.channels import OutboundContactRow
from store.engine import session_scope
from tests.conftest import AUDITOR, COLLECTOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    instant_of,
    sleep_until,
    start,
)

MOBILE = "+8613800138000"
INVALID = "+15005550001"  # the sandbox (and Twilio's test account) refuses it: 21211
LANDLINE = "+862161234567"  # a Shanghai fixed line: 21614 for a text, calls ring
DEAD_AFTER_ACCEPT = "+8613800000410"  # accepted, then `failed` 30005
UNDELIVERED = "+8613800000404"  # accepted, then `undelivered` 30003


def with_mobiles(loan: str, due: date, *numbers: str) -> dict[str, Any]:
    body = account_json(loan, due)
    body["borrower"]["phones"] = [{"kind": "mobile", "number": n} for n in numbers]
    return body


def of_kind(listed: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] == kind]


def sms_targets(listed: list[dict[str, Any]]) -> list[str]:
    return [a["detail"]["to"] for a in of_kind(listed, "sms_reminder")]


async def failure(
    env: WorkflowEnvironment, loan: str, kind: str, number: str, code: int | None
) -> None:
    """The contact_event our status webhook sends for an undelivered or failed message."""
    await env.client.get_workflow_handle(f"account-{loan}").signal(
        "contact_event",
        {
            "kind": kind,
            "channel": "sms",
            "number": number,
            "at": (await env.get_current_time()).isoformat(),
            "detail": {"status": "undelivered", "error_code": code},
        },
    )


async def test_an_invalid_number_refused_by_the_provider_is_dead_and_texts_and_calls_move_on(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-DELIV-21211"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, INVALID, MOBILE))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = await actions(api, loan)
    first, *later = of_kind(listed, "sms_reminder")
    assert first["detail"]["to"] == INVALID
    assert first["status"] == "failed"
    [learned] = of_kind(listed, "delivery_failure")
    assert learned["detail"]["to"] == INVALID
    assert learned["detail"]["error_code"] == 21211
    assert learned["detail"]["verdict"] == "dead"
    assert learned["detail"]["rule"] == "number.dead"
    assert learned["detail"]["source"] == "provider refusal"
    assert later and {a["detail"]["to"] for a in later} == {MOBILE}
    calls = of_kind(listed, "call_task")
    assert calls and {a["detail"]["to"] for a in calls} == {MOBILE}
    # The auditor reads what was learned, and why, without the number itself.
    timeline = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert timeline.status_code == 200, timeline.text
    [entry] = [e for e in timeline.json()["entries"] if "judged dead" in e["summary"]]
    assert "error 21211" in entry["summary"] and "number.dead" in entry["summary"]
    assert INVALID not in timeline.text


async def test_a_number_that_cannot_receive_sms_gets_no_more_texts_but_is_still_called(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-DELIV-21614"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, LANDLINE, MOBILE))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = await actions(api, loan)
    assert sms_targets(listed) == [LANDLINE, MOBILE]
    [learned] = of_kind(listed, "delivery_failure")
    assert (learned["detail"]["error_code"], learned["detail"]["verdict"]) == (21614, "no_sms")
    assert learned["detail"]["rule"] == "number.no_sms"
    # Calls rotate from the first mobile as before: the landline rings.
    assert [a["detail"]["to"] for a in of_kind(listed, "call_task")][:1] == [LANDLINE]


async def test_when_the_only_mobile_takes_no_texts_the_next_text_is_blocked_by_number_no_sms(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-DELIV-21614-ONLY"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, LANDLINE))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = await actions(api, loan)
    assert sms_targets(listed) == [LANDLINE]
    blocked = [
        a
        for a in of_kind(listed, "contact_blocked")
        if a["detail"]["blocked_action"] == "sms_reminder"
    ]
    assert [b["detail"]["rule"] for b in blocked] == ["number.no_sms"]
    assert blocked[0]["detail"].get("rescheduled_to") is None  # only new facts lift it
    assert {a["detail"]["to"] for a in of_kind(listed, "call_task")} == {LANDLINE}


async def test_a_failed_callback_with_unknown_destination_makes_the_number_dead(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
) -> None:
    """End to end through our status webhook: the gateway accepted the text; its `failed`
    callback (30005) reaches /v1/webhooks/twilio/status signed as Twilio signs it."""
    loan = "L-DELIV-30005"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, DEAD_AFTER_ACCEPT, MOBILE))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=23)
    with session_scope(database_url) as session:
        [sent] = session.exec(
            select(OutboundContactRow).where(OutboundContactRow.loan_id == loan)
        ).all()
        sid = sent.provider_sid
    assert sid is not None
    params = {
        "AccountSid": settings.twilio_account[0],
        "MessageSid": sid,
        "MessageStatus": "failed",
        "ErrorCode": "30005",
        "To": DEAD_AFTER_ACCEPT,
    }
    path = "/v1/webhooks/twilio/status"
    signature = RequestValidator(settings.twilio_account[1]).compute_signature(
        settings.public_url.rstrip("/") + path, params
    )
    answer = await api.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 204, answer.text
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = await actions(api, loan)
    assert sms_targets(listed) == [DEAD_AFTER_ACCEPT, MOBILE]
    [learned] = of_kind(listed, "delivery_failure")
    assert (learned["detail"]["error_code"], learned["detail"]["verdict"]) == (30005, "dead")
    assert learned["detail"]["provider_id"] == sid
    assert learned["detail"]["source"] == "status callback: failed"
    assert {a["detail"]["to"] for a in of_kind(listed, "call_task")} == {MOBILE}


async def test_a_landline_callback_30006_stops_texts_to_it_and_calls_continue(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """Our webhook reports 30006 as `number_dead`; the error code wins: a landline lives."""
    loan = "L-DELIV-30006"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, MOBILE))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=23)
    await failure(workflow_env, loan, "number_dead", MOBILE, 30006)
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = await actions(api, loan)
    [learned] = of_kind(listed, "delivery_failure")
    assert (learned["detail"]["verdict"], learned["detail"]["rule"]) == ("no_sms", "number.no_sms")
    texts_blocked = [
        a["detail"]["rule"]
        for a in of_kind(listed, "contact_blocked")
        if a["detail"]["blocked_action"] == "sms_reminder"
    ]
    assert texts_blocked == ["number.no_sms"]
    assert {a["detail"]["to"] for a in of_kind(listed, "call_task")} == {MOBILE}


async def test_a_number_reported_dead_gets_nothing_and_without_another_number_contact_is_blocked(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-DELIV-DEAD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, MOBILE))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=23)
    reported = await workflow_env.get_current_time()
    await failure(workflow_env, loan, "number_dead", MOBILE, None)
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)

    listed = [a for a in await actions(api, loan) if instant_of(a) >= reported]
    [learned] = of_kind(listed, "delivery_failure")
    assert learned["detail"]["verdict"] == "dead"
    assert of_kind(listed, "sms_reminder") == [] and of_kind(listed, "call_task") == []
    rules = {
        a["detail"]["blocked_action"]: a["detail"]["rule"]
        for a in of_kind(listed, "contact_blocked")
    }
    assert rules == {"sms_reminder": "number.none_reachable", "call_task": "number.none_reachable"}


async def test_three_undelivered_texts_in_a_row_move_texts_elsewhere_until_contact_info_lists_it(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-DELIV-30003"
    other = "+8613800138001"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, MOBILE, other))
    await sleep_until(workflow_env, due - timedelta(days=2), hour=23)
    # Two undelivered texts in a row (30003, 30008): temporary, texts stay on the number.
    await failure(workflow_env, loan, "delivery_failed", MOBILE, 30003)
    await failure(workflow_env, loan, "delivery_failed", MOBILE, 30008)
    await sleep_until(workflow_env, due - timedelta(days=1), hour=23)
    assert sms_targets(await actions(api, loan)) == [MOBILE]
    # The third: no more texts to it.
    await failure(workflow_env, loan, "delivery_failed", MOBILE, 30003)
    await sleep_until(workflow_env, due + timedelta(days=1), hour=23)
    listed = await actions(api, loan)
    assert sms_targets(listed) == [MOBILE, other]
    learned = of_kind(listed, "delivery_failure")
    assert [a["detail"]["verdict"] for a in learned] == ["temporary", "temporary", "no_sms"]
    assert [a["detail"]["undelivered_in_a_row"] for a in learned] == [1, 2, 3]
    assert learned[-1]["detail"]["rule"] == "number.no_sms"
    # Calls to it continue.
    await sleep_until(workflow_env, due + timedelta(days=2), hour=23)
    assert [a["detail"]["to"] for a in of_kind(await actions(api, loan), "call_task")][:1] == [
        MOBILE
    ]
    # A collector confirms the number: texts go to it again.
    answer = await api.post(
        f"/v1/accounts/{loan}/contact-info",
        json={"phones": [{"kind": "mobile", "number": MOBILE}]},
        headers=COLLECTOR,
    )
    assert answer.status_code == 202, answer.text
    await sleep_until(workflow_env, due + timedelta(days=15), hour=23)
    assert sms_targets(await actions(api, loan)) == [MOBILE, other, MOBILE]


async def test_an_undelivered_callback_through_the_webhook_counts_towards_no_sms(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    settings: Settings,
    database_url: str,
) -> None:
    loan = "L-DELIV-WEBHOOK-30003"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, with_mobiles(loan, due, UNDELIVERED))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=23)
    with session_scope(database_url) as session:
        [sent] = session.exec(
            select(OutboundContactRow).where(OutboundContactRow.loan_id == loan)
        ).all()
        sid = str(sent.provider_sid)
    params = {
        "AccountSid": settings.twilio_account[0],
        "MessageSid": sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": UNDELIVERED,
    }
    path = "/v1/webhooks/twilio/status"
    signature = RequestValidator(settings.twilio_account[1]).compute_signature(
        settings.public_url.rstrip("/") + path, params
    )
    for _ in range(2):  # Twilio may deliver a callback twice: it counts once
        answer = await api.post(path, data=params, headers={"X-Twilio-Signature": signature})
        assert answer.status_code == 204, answer.text
    await sleep_until(workflow_env, due + timedelta(days=1), hour=23)

    listed = await actions(api, loan)
    [learned] = of_kind(listed, "delivery_failure")
    assert learned["detail"]["verdict"] == "temporary"
    assert learned["detail"]["undelivered_in_a_row"] == 1
    assert sms_targets(listed) == [UNDELIVERED, UNDELIVERED]
