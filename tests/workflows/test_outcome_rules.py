"""Rules of a collector's outcomes, on the real AccountWorkflow driven through the API (issue 17
item 5): who counts as reached, when a task takes an outcome, and what follows a broken promise.
The task queue is the store's, so these tests run the real worker."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.models import TaskRow
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    local_day_of,
    open_tasks,
    pay,
    post_outcome,
    promise,
    sleep_until,
    start,
    status,
    store_rows,
)


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
    answered = await post_outcome(api, task["task_id"], {"outcome": "third_party"})
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
    answered = await post_outcome(api, task["task_id"], {"outcome": "paid_claimed"})
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


async def test_an_outcome_before_the_tasks_window_opens_is_refused_unless_reported_unscheduled(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Section 5, "keep a complete record of every contact" — of contacts that happened, not
    of attempts booked ahead: an outcome on a task whose window has not opened is 409
    `task_not_open` naming the window, and nothing reaches the workflow. A call that really
    happened early is recorded with `unscheduled: true`: it is audited against the contact
    rules and a supervisor (not the reporter) gets an approval task to review it."""
    loan = "L-OR-EARLY"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [first] = open_tasks(database_url, loan)
    assert (await post_outcome(api, first["task_id"], {"outcome": "no_answer"})).status_code == 200
    await workflow_env.sleep(timedelta(minutes=1))
    [later] = open_tasks(database_url, loan)
    assert later["not_before"].replace(tzinfo=UTC) > await workflow_env.get_current_time()

    early = await post_outcome(api, later["task_id"], {"outcome": "no_answer"})
    assert early.status_code == 409, early.text
    error = early.json()["error"]
    assert error["code"] == "task_not_open"
    assert later["not_before"].replace(tzinfo=UTC).isoformat() in error["message"]
    [still] = open_tasks(database_url, loan)
    assert still["task_id"] == later["task_id"] and still["assignee"] is None

    reported = await post_outcome(
        api, later["task_id"], {"outcome": "no_answer", "unscheduled": True}
    )
    assert reported.status_code == 200, reported.text
    await workflow_env.sleep(timedelta(minutes=1))
    [audit] = [a for a in await actions(api, loan) if a["kind"] == "unscheduled_contact"]
    assert audit["detail"]["reported_task"] == later["task_id"]
    assert audit["detail"]["outcome"] == "no_answer"
    assert audit["detail"]["allowed"] is True and "rule" not in audit["detail"]
    [review] = open_tasks(database_url, loan, "approval")
    assert review["task_id"] == audit["detail"]["review_task"]
    assert review["detail"]["requested_by"] == audit["detail"]["recorded_by"] == "alice"
    self_review = await post_outcome(api, review["task_id"], {"outcome": "approved"})
    assert self_review.status_code == 403, self_review.text
    reviewed = await post_outcome(api, review["task_id"], {"outcome": "approved"}, SUPERVISOR)
    assert reviewed.status_code == 200, reviewed.text


async def test_a_borrower_who_broke_a_promise_gets_a_follow_up_call_ranked_above_ordinary_calls(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Section 7: "a customer who broke a promise usually still means to pay and is a
    priority": the day the promise is judged broken a follow-up call is queued, its priority
    twice the overdue amount (an ordinary call's is the overdue amount)."""
    loan = "L-OR-BROKEN"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    promised_date = due + timedelta(days=5)
    made = await promise(api, loan, "600.00", promised_date)
    assert made.status_code == 201, made.text
    broken_on = promised_date + timedelta(days=2)  # judged when deadline day (+1 grace) ends
    await sleep_until(workflow_env, broken_on, hour=12)
    after = await status(api, loan)
    assert after["broken_promises"] == 1
    [follow_up] = [
        a
        for a in await actions(api, loan)
        if a["detail"].get("broken_promise") == made.json()["promise_id"]
    ]
    assert follow_up["kind"] == "call_task" and local_day_of(follow_up) == broken_on
    rows = {r["task_id"]: r for r in store_rows(database_url, TaskRow, loan)}
    task = rows[follow_up["detail"]["task_id"]]
    overdue = Decimal(after["amount_overdue"])
    assert overdue == Decimal("1200.00") + Decimal("0.60") * 7  # DPD 7, nothing paid
    assert Decimal(task["priority"]) == 2 * overdue
    ordinary = [r for r in rows.values() if r["kind"] == "call" and r is not task]
    assert ordinary and all(Decimal(r["priority"]) < Decimal(task["priority"]) for r in ordinary)


async def test_a_loan_whose_episode_ended_with_nothing_unpaid_is_not_reopened(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """CONTRACT.md v1.1: `POST /v1/accounts` for a loan whose episode ended with no instalment
    unpaid → 409 `episode_closed`, nothing started; a new unpaid instalment opens a new
    episode (201) that holds only what is unpaid — the paid instalment stays paid."""
    loan = "L-OR-ENDED"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    await start(api, body)
    await sleep_until(workflow_env, due, hour=10)
    await pay(api, loan, "on-time", "1200.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
    assert (await status(api, loan))["state"] == "paid_on_time"

    again = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "episode_closed"
    assert (await status(api, loan))["state"] == "paid_on_time"

    following = account_json(loan, due, amounts=("1200.00", "1300.00"))
    opened = await api.post("/v1/accounts", json=following, headers=LOAN_SYSTEM)
    assert opened.status_code == 201, opened.text
    new = opened.json()
    assert new["state"] == "pre_due"
    assert [(i["seq"], i["unpaid"]) for i in new["instalments"]] == [(8, "1300.00")]
    assert Decimal(new["balance"]) == Decimal("1300.00")
