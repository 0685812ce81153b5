"""`GET /v1/accounts/{loan_id}/compliance` (issue 15): the workflow answers what the compliance
gate allows next on each channel, in the borrower's local time, with the numbers masked; only
staff who may read the account's messages read it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import AUDITOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, sleep_until, start


async def test_in_quiet_hours_the_read_says_a_call_waits_until_eight_borrower_time(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("CR-1", due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=23)

    response = await api.get("/v1/accounts/CR-1/compliance", headers=SUPERVISOR)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["loan_id"] == "CR-1" and body["timezone"] == "Asia/Shanghai"
    assert body["profile"] == "cn" and body["local_time"].endswith(" 23:00")
    channels = {c["channel"]: c for c in body["channels"]}
    assert set(channels) == {"sms", "voice", "call", "letter", "field_visit"}
    call = channels["call"]
    assert call["allowed_now"] is False and call["rule"] == "cn.quiet_hours"
    tomorrow = (due + timedelta(days=4)).isoformat()
    assert call["next_allowed_local"] == f"{tomorrow} 08:00"
    assert call["target"] == "+*********8000"  # the last four digits only
    assert {c["rule"] for c in call["caps"]} == {
        "cn.connected_calls_per_day",
        "cn.unanswered_per_number_per_day",
    }
    assert all(c["left"] == c["max"] - c["used"] for c in call["caps"])
    # Letters have no time window under the cn profile: allowed now.
    assert channels["letter"]["allowed_now"] is True

    # The next morning at 09:00 the same call is allowed now.
    await sleep_until(workflow_env, due + timedelta(days=4), hour=9)
    later = await api.get("/v1/accounts/CR-1/compliance", headers=AUDITOR)
    assert later.status_code == 200, later.text
    call = next(c for c in later.json()["channels"] if c["channel"] == "call")
    assert call["allowed_now"] is True and call["rule"] is None


async def test_the_compliance_read_refuses_the_loan_system_and_unknown_loans(
    api: httpx.AsyncClient,
) -> None:
    refused = await api.get("/v1/accounts/CR-X/compliance", headers=LOAN_SYSTEM)
    assert refused.status_code == 403, refused.text
    unknown = await api.get("/v1/accounts/CR-X/compliance", headers=SUPERVISOR)
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"]["code"] == "not_found"
