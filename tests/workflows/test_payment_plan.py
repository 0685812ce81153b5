"""Short-term hardship with a partial-payment plan (PLAYBOOK.md section 9): a series of
promises paid in order, each judged like a single promise; a kept one opens the next, a broken
one ends the plan and treatment resumes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    account_json,
    business_today,
    pay,
    sleep_until,
    start,
    status,
)
from tests.workflows.moments import MomentRecorder


async def next_call_task(env: WorkflowEnvironment, database_url: str, loan: str) -> dict[str, Any]:
    """The account's latest open call task, moving virtual time on until the ladder makes one
    (which days have calls depends on the calendar: holidays and weekends move contacts)."""
    from tests.workflows.test_branches import open_tasks

    for _ in range(80):
        tasks = open_tasks(database_url, loan)
        if tasks:
            return tasks[-1]
        await env.sleep(timedelta(hours=3))
    raise AssertionError(f"no call task for {loan} by {await env.get_current_time()}")


def plan_of(*entries: tuple[str, date]) -> list[dict[str, str]]:
    return [{"amount": amount, "promised_date": day.isoformat()} for amount, day in entries]


async def hardship(
    api: httpx.AsyncClient, loan: str, plan: list[dict[str, str]], term: str = "short"
) -> httpx.Response:
    body: dict[str, Any] = {
        "cause": "salary paid late",
        "term": term,
        "surmountable": True,
        "plan": plan,
    }
    return await api.post(f"/v1/accounts/{loan}/hardship", json=body, headers=COLLECTOR)


async def test_a_plan_opens_its_promises_one_after_another_as_each_is_kept_and_ends_cured(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    loan = "L-PLAN-KEPT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    today = due + timedelta(days=5)
    await sleep_until(workflow_env, today, hour=12)
    plan = plan_of(
        ("400.00", today + timedelta(days=3)),
        ("400.00", today + timedelta(days=8)),
        ("400.00", today + timedelta(days=13)),
    )
    answer = await hardship(api, loan, plan)
    assert answer.status_code == 202, answer.text
    assert "payment plan of 3 promises" in answer.json()["effect"]
    opened = await status(api, loan)
    assert opened["holds"] == []  # a plan instead of the grace period
    assert opened["promise"]["promised_date"] == plan[0]["promised_date"]

    await sleep_until(workflow_env, today + timedelta(days=2), hour=12)
    await pay(api, loan, "P-PLAN-1", "400.00", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    second = (await status(api, loan))["promise"]
    assert second is not None and second["promised_date"] == plan[1]["promised_date"]
    # The payment that kept the first promise does not count toward the second.
    await sleep_until(workflow_env, today + timedelta(days=3), hour=12)
    assert (await status(api, loan))["promise"]["promised_date"] == plan[1]["promised_date"]

    await sleep_until(workflow_env, today + timedelta(days=7), hour=12)
    await pay(api, loan, "P-PLAN-2", "400.00", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    assert (await status(api, loan))["promise"]["promised_date"] == plan[2]["promised_date"]

    balance = Decimal((await status(api, loan))["balance"])
    await pay(api, loan, "P-PLAN-3", str(balance), await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    final = await status(api, loan)
    assert final["state"] == "cured" and final["broken_promises"] == 0


async def test_a_broken_plan_promise_ends_the_plan_with_a_negative_record_and_treatment_resumes(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    loan = "L-PLAN-BROKEN"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    today = due + timedelta(days=5)
    await sleep_until(workflow_env, today, hour=12)
    plan = plan_of(("300.00", today + timedelta(days=2)), ("300.00", today + timedelta(days=6)))
    assert (await hardship(api, loan, plan)).status_code == 202
    await sleep_until(workflow_env, today + timedelta(days=5), hour=12)
    after = await status(api, loan)
    assert after["promise"] is None and after["broken_promises"] == 1
    kinds = [a["kind"] for a in moments.listed(loan)]
    assert "negative_credit_record" in kinds
    # The ladder is back: the next stage contacts are scheduled again.
    assert after["next_action"] is not None


async def test_a_plan_that_promises_too_much_goes_backwards_or_is_for_a_long_hardship_is_refused(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    loan = "L-PLAN-BAD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    today = due + timedelta(days=5)
    await sleep_until(workflow_env, today, hour=12)
    too_much = plan_of(
        ("1000.00", today + timedelta(days=2)), ("1000.00", today + timedelta(days=4))
    )
    refused = await hardship(api, loan, too_much)
    assert refused.status_code == 422 and "more than the balance" in refused.text
    backwards = plan_of(
        ("100.00", today + timedelta(days=4)), ("100.00", today + timedelta(days=2))
    )
    refused = await hardship(api, loan, backwards)
    assert refused.status_code == 422 and "not after the one before" in refused.text
    one = plan_of(("100.00", today + timedelta(days=2)))
    assert (await hardship(api, loan, one)).status_code == 422
    long_term = plan_of(
        ("100.00", today + timedelta(days=2)), ("100.00", today + timedelta(days=4))
    )
    assert (await hardship(api, loan, long_term, term="long")).status_code == 422
    assert (await status(api, loan))["promise"] is None  # nothing reached the workflow
    good = plan_of(("100.00", today + timedelta(days=2)), ("100.00", today + timedelta(days=4)))
    assert (await hardship(api, loan, good)).status_code == 202
    while_open = await hardship(api, loan, good)
    assert while_open.status_code == 409, while_open.text


async def test_a_promise_broken_by_our_late_debit_file_does_not_count_against_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    from tests.workflows.helpers import promise
    from tests.workflows.test_branches import work

    for loan, reason, counted in (
        ("L-BROKEN-DEBIT", "debit_file_error", 0),
        ("L-BROKEN-STALL", "stalling", 1),
    ):
        due = await business_today(workflow_env) + timedelta(days=2)
        await start(api, account_json(loan, due))
        today = due + timedelta(days=3)
        await sleep_until(workflow_env, today, hour=12)
        made = await promise(api, loan, "500.00", today + timedelta(days=1))
        assert made.status_code == 201, made.text
        await sleep_until(workflow_env, today + timedelta(days=4), hour=12)
        assert (await status(api, loan))["broken_promises"] == 1
        await sleep_until(workflow_env, today + timedelta(days=8), hour=20)
        task = await next_call_task(workflow_env, database_url, loan)
        await work(
            api,
            task["task_id"],
            {"outcome": "paid_claimed", "broken_promise_reason": reason},
        )
        await workflow_env.sleep(timedelta(minutes=1))
        assert (await status(api, loan))["broken_promises"] == counted, reason


async def test_after_three_broken_promises_only_a_supervisor_records_the_next_one(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    from tests.conftest import SUPERVISOR
    from tests.workflows.helpers import promise

    loan = "L-BROKEN-THREE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    day = due + timedelta(days=3)
    for _broken in range(3):
        await sleep_until(workflow_env, day, hour=12)
        made = await promise(api, loan, "100.00", day + timedelta(days=1))
        assert made.status_code == 201, made.text
        day += timedelta(days=3)
    await sleep_until(workflow_env, day, hour=12)
    assert (await status(api, loan))["broken_promises"] == 3
    refused = await promise(api, loan, "100.00", day + timedelta(days=1))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "supervisor_required"

    # The same rule on a call outcome: the collector is refused, the supervisor may.
    await sleep_until(workflow_env, day + timedelta(days=1), hour=20)
    task = await next_call_task(workflow_env, database_url, loan)
    body = {
        "outcome": "promise_to_pay",
        "promise": {
            "amount": "100.00",
            "promised_date": (await business_today(workflow_env) + timedelta(days=2)).isoformat(),
        },
    }
    by_collector = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome", json=body, headers=COLLECTOR
    )
    assert by_collector.status_code == 409, by_collector.text
    assert by_collector.json()["error"]["code"] == "supervisor_required"
    by_supervisor = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome", json=body, headers=SUPERVISOR
    )
    assert by_supervisor.status_code == 200, by_supervisor.text
    assert (await status(api, loan))["promise"]["amount"] == "100.00"
