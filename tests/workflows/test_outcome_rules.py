"""Rules of a collector's outcomes, on the real AccountWorkflow driven through the API (issue 17
item 5): who counts as reached, when a task takes an outcome, and what follows a broken promise.
The task queue is the store's, so these tests run the real worker."""

from __future__ import annotations

from datetime import timedelta
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
    sleep_until,
    start,
    store_rows,
)


def open_tasks(database_url: str, loan: str, kind: str = "call") -> list[dict[str, Any]]:
    rows = store_rows(database_url, TaskRow, loan)
    return sorted(
        (t for t in rows if t["status"] == "open" and t["kind"] == kind),
        key=lambda t: t["action_seq"],
    )


async def work(
    api: httpx.AsyncClient, task_id: str, body: dict[str, Any], who: dict[str, str] = COLLECTOR
) -> httpx.Response:
    return await api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=who)


def field_visits(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in listed if a["detail"].get("step_id") == "fe_field_20"]


async def test_someone_else_answering_is_not_reaching_the_borrower_so_the_dpd_20_visit_goes_out(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Glossary, RPC: "a conversation with the borrower (not a relative, not voicemail)"; the
    ladder's DPD-20 field visit is for borrowers not reached."""
    loan = "L-OR-THIRDPARTY"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [task] = open_tasks(database_url, loan)
    answered = await work(api, task["task_id"], {"outcome": "third_party"})
    assert answered.status_code == 200, answered.text
    await sleep_until(workflow_env, due + timedelta(days=21), hour=12)
    assert len(field_visits(await actions(api, loan))) == 1


async def test_the_borrower_answering_is_reaching_them_so_no_dpd_20_visit(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """The other side of the rule: a right-party contact makes the visit unnecessary."""
    loan = "L-OR-RPC"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [task] = open_tasks(database_url, loan)
    answered = await work(api, task["task_id"], {"outcome": "paid_claimed"})
    assert answered.status_code == 200, answered.text
    await sleep_until(workflow_env, due + timedelta(days=21), hour=12)
    assert field_visits(await actions(api, loan)) == []


async def test_the_actions_of_an_account_just_accepted_are_an_empty_list_not_404(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """CONTRACT.md v1.1: `GET .../actions` of an account just accepted → 200 `[]`; a loan
    never started is still 404."""
    loan = "L-OR-FRESH"
    due = await business_today(workflow_env) + timedelta(days=3)
    await start(api, account_json(loan, due))
    assert await actions(api, loan) == []
    unknown = await api.get("/v1/accounts/L-OR-NEVER/actions", headers=COLLECTOR)
    assert unknown.status_code == 404, unknown.text
