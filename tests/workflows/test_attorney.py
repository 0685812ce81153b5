"""Attorney representation (issue 4, audit G11): while the borrower is represented, the ladder's
calls go to the attorney and nothing else reaches the borrower; when the representation ends,
calls go back to the borrower. An attorney hold that names no number stops contact as before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.models import TaskRow
from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    instant_of,
    sleep_until,
    start,
    store_rows,
)
from tests.workflows.moments import MomentRecorder
from workflows.contracts import HoldRequest

BORROWER = "+8613800138000"  # the one mobile of `account_json`
ATTORNEY = "+8613700137000"
TO_BORROWER = {"sms_reminder", "voice_reminder", "letter", "lawyer_letter", "field_visit"}


async def represent(api: httpx.AsyncClient, loan: str) -> None:
    answer = await api.post(
        f"/v1/accounts/{loan}/attorney",
        json={"name": "Zhang Lei", "phone": ATTORNEY},
        headers=COLLECTOR,
    )
    assert answer.status_code == 202, answer.text


def after(listed: list[dict[str, Any]], moment: datetime, kinds: set[str]) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] in kinds and instant_of(a) > moment]


async def test_under_an_attorney_hold_the_ladders_calls_go_to_the_attorney_and_nothing_else(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    loan = "L-ATTORNEY-CALLS"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)
    await represent(api, loan)
    since = await workflow_env.get_current_time()
    # DPD 3 to 16 of the default ladder: calls (5, 9, 14), a letter (7) and an SMS (15).
    await sleep_until(workflow_env, due + timedelta(days=16), hour=22)
    listed = moments.listed(loan)
    calls = after(listed, since, {"call_task"})
    assert len(calls) == 3, calls
    assert {(c["detail"]["to"], c["detail"]["party"]) for c in calls} == {(ATTORNEY, "attorney")}
    assert after(listed, since, TO_BORROWER) == []


async def test_when_the_attorney_hold_is_released_calls_go_back_to_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-ATTORNEY-RELEASED"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)
    await represent(api, loan)
    # DPD 5, 20:00: the attorney's call (19:00-21:00 slot) is open when the hold ends.
    await sleep_until(workflow_env, due + timedelta(days=5), hour=20)
    open_calls = [
        t
        for t in store_rows(database_url, TaskRow, loan)
        if t["kind"] == "call" and t["status"] == "open"
    ]
    assert [t["detail"]["to"] for t in open_calls] == [ATTORNEY]
    released = await api.post(
        f"/v1/accounts/{loan}/holds/attorney/release", json={}, headers=COLLECTOR
    )
    assert released.status_code == 202, released.text
    since = await workflow_env.get_current_time()
    # The calls of DPD 9 and 14.
    await sleep_until(workflow_env, due + timedelta(days=16), hour=22)
    tasks = {t["task_id"]: t for t in store_rows(database_url, TaskRow, loan)}
    assert tasks[open_calls[0]["task_id"]]["status"] == "cancelled"
    calls = after(await actions(api, loan), since, {"call_task"})
    assert calls, "the ladder's calls resume after the release"
    assert {(c["detail"]["to"], c["detail"].get("party", "borrower")) for c in calls} == {
        (BORROWER, "borrower")
    }


async def test_an_attorney_hold_without_the_attorneys_number_stops_every_call(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    loan = "L-ATTORNEY-NO-NUMBER"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)
    # The API always asks for the number; a hold recorded without one (an older client, a
    # migration) must not invent a party to call.
    await workflow_env.client.get_workflow_handle(f"account-{loan}").execute_update(
        "add_hold", HoldRequest(kind="attorney", reported_by="tester", reason="represented")
    )
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=16), hour=22)
    assert after(moments.listed(loan), since, {"call_task"} | TO_BORROWER) == []
