"""Outcomes reach the real AccountWorkflow exactly once: an account started through the API on
the time-skipping server climbs to its first call task (DPD 2, 10:00-11:30 borrower time), and a
collector works that task through GET /v1/tasks, claim and outcome."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.engine import session_scope
from store.models import PromiseRow, TaskRow
from tests.conftest import COLLECTOR, LOAN_SYSTEM
from tests.tasks.conftest import BOB, task_row
from tests.workflows.helpers import account_json, business_today, chain_histories, sleep_until

STARTED: list[str] = []


@pytest.fixture(autouse=True)
async def _end_episodes(workflow_env: WorkflowEnvironment) -> AsyncIterator[None]:
    """Terminate what a test started: an orphaned workflow's timer would stall time skipping."""
    STARTED.clear()
    yield
    for loan_id in STARTED:
        handle = workflow_env.client.get_workflow_handle(f"account-{loan_id}")
        with contextlib.suppress(RPCError):
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


async def first_call_task(
    env: WorkflowEnvironment, api: httpx.AsyncClient, database_url: str, loan_id: str
) -> tuple[dict[str, Any], date]:
    """Start the account and move virtual time until its DPD-2 call task is open; the task as
    GET /v1/tasks lists it, and the borrower's date that day."""
    due = await business_today(env) + timedelta(days=2)
    STARTED.append(loan_id)
    account = account_json(loan_id, due)
    # No SMS consent: the reminders before the call are refused by the contact rules instead of
    # going out, so these tests need no SMS gateway; calls by a person are not SMS.
    account["borrower"]["consents"] = {"sms": False, "voice": True}
    started = await api.post("/v1/accounts", json=account, headers=LOAN_SYSTEM)
    assert started.status_code == 201, started.text
    await sleep_until(env, due + timedelta(days=2), hour=10)
    for _ in range(8):
        with session_scope(database_url) as session:
            row = session.exec(select(TaskRow).where(TaskRow.loan_id == loan_id)).first()
        if row is not None:
            break
        await env.sleep(timedelta(minutes=10))
    else:
        pytest.fail(f"no call task for {loan_id} by {await env.get_current_time()}")
    listed = await api.get("/v1/tasks?kind=call", headers=COLLECTOR)
    assert listed.status_code == 200, listed.text
    mine = [t for t in listed.json() if t["loan_id"] == loan_id]
    assert len(mine) == 1, listed.json()
    return mine[0], due + timedelta(days=2)


async def accepted_updates(env: WorkflowEnvironment, loan_id: str, update_id: str) -> int:
    """How many times the workflow history accepted the update with this id (every run)."""
    count = 0
    for history in await chain_histories(env, loan_id):
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                continue
            attributes = event.workflow_execution_update_accepted_event_attributes
            if attributes.accepted_request.meta.update_id == update_id:
                count += 1
    return count


async def test_an_outcome_posted_twice_reaches_the_workflow_once_and_its_promise_is_made_once(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-TASK-ONCE"
    task, today = await first_call_task(workflow_env, api, database_url, loan)
    assert task["status"] == "open" and task["assignee"] is None
    task_id = task["task_id"]
    claimed = await api.post(f"/v1/tasks/{task_id}/claim", headers=COLLECTOR)
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "alice"
    assert (await api.post(f"/v1/tasks/{task_id}/claim", headers=BOB)).status_code == 409

    body = {
        "outcome": "promise_to_pay",
        "promise": {
            "amount": "1200.00",
            "promised_date": (today + timedelta(days=3)).isoformat(),
            "pay_to": "ICBC",
        },
    }
    first = await api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=COLLECTOR)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "done" and first.json()["effect"].startswith("promise ")
    second = await api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=COLLECTOR)
    assert second.status_code == 200, second.text
    assert second.json()["outcome"] == first.json()["outcome"]

    await workflow_env.sleep(timedelta(minutes=5))  # let the moment's store write run
    assert await accepted_updates(workflow_env, loan, f"outcome-{task_id}") == 1
    account = (await api.get(f"/v1/accounts/{loan}", headers=LOAN_SYSTEM)).json()
    assert account["promise"] is not None and account["promise"]["amount"] == "1200.00"
    with session_scope(database_url) as session:
        promises = session.exec(select(PromiseRow).where(PromiseRow.loan_id == loan)).all()
    assert len(promises) == 1
    stored = task_row(database_url, task_id)
    assert stored is not None and stored.status == "done" and stored.outcome_by == "alice"


async def test_a_re_send_after_the_store_write_was_lost_is_deduplicated_by_the_workflow(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """The API crashed after the workflow accepted the outcome but before the store write: the
    retry re-sends the update, the workflow counts it once, and the store write completes."""
    loan = "L-TASK-RESEND"
    task, _today = await first_call_task(workflow_env, api, database_url, loan)
    task_id = task["task_id"]
    first = await api.post(f"/v1/tasks/{task_id}/outcome", json={"outcome": "busy"}, headers=BOB)
    assert first.status_code == 200, first.text
    with session_scope(database_url) as session:  # forget the store write
        row = session.get(TaskRow, task_id)
        assert row is not None
        row.status, row.outcome, row.outcome_by, row.outcome_at = "open", None, None, None
        row.closed_at = None
        session.add(row)
    retry = await api.post(f"/v1/tasks/{task_id}/outcome", json={"outcome": "busy"}, headers=BOB)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "done" and retry.json()["outcome_by"] == "bob"
    assert await accepted_updates(workflow_env, loan, f"outcome-{task_id}") == 1


async def test_the_workflow_refusing_a_promise_is_422_and_the_task_stays_open_and_unclaimed(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-TASK-BADPROMISE"
    task, today = await first_call_task(workflow_env, api, database_url, loan)
    task_id = task["task_id"]
    too_late = {
        "outcome": "promise_to_pay",
        "promise": {"amount": "1200.00", "promised_date": (today + timedelta(days=30)).isoformat()},
    }
    refused = await api.post(f"/v1/tasks/{task_id}/outcome", json=too_late, headers=COLLECTOR)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_promise"
    stored = task_row(database_url, task_id)
    assert stored is not None and (stored.status, stored.assignee) == ("open", None)
    assert await accepted_updates(workflow_env, loan, f"outcome-{task_id}") == 0
    fine = await api.post(
        f"/v1/tasks/{task_id}/outcome", json={"outcome": "no_answer"}, headers=COLLECTOR
    )
    assert fine.status_code == 200, fine.text


async def test_an_outcome_for_an_account_whose_workflow_is_gone_is_409(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-TASK-GONE"
    task, _today = await first_call_task(workflow_env, api, database_url, loan)
    await workflow_env.client.get_workflow_handle(f"account-{loan}").terminate("test")
    response = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome", json={"outcome": "no_answer"}, headers=COLLECTOR
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "workflow_closed"
    stored = task_row(database_url, task["task_id"])
    assert stored is not None and (stored.status, stored.assignee) == ("open", None)
