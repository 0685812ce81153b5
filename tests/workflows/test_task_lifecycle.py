"""Work for people (issue 6): a task nobody worked is closed by the workflow when its window has
passed, never left dangling in a queue; and recording a moment twice (a retried activity) creates
its task once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.moment import MomentActivities
from store.models import ActionRow, TaskRow
from tests.workflows.helpers import account_json, business_today, sleep_until, start, store_rows
from workflows.contracts import AccountStatus, ActionCommand, MomentRecord, StrategyRef, task_id_for


async def test_a_call_task_nobody_worked_is_closed_by_the_workflow_once_its_window_ends(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-TASK-EXPIRES"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [first] = store_rows(database_url, TaskRow, loan)
    assert first["status"] == "open"
    assert first["not_after"] is not None

    # The workflow wakes when the window ends and closes the task then, not at the next step.
    await sleep_until(workflow_env, due + timedelta(days=4), hour=12)
    tasks = {t["task_id"]: t for t in store_rows(database_url, TaskRow, loan)}
    assert tasks[first["task_id"]]["status"] == "expired"
    assert "window ended" in tasks[first["task_id"]]["detail"]["closed_reason"]
    closed_at = tasks[first["task_id"]]["closed_at"]
    assert closed_at is not None
    ended = first["not_after"].replace(tzinfo=UTC)
    assert ended <= closed_at.replace(tzinfo=UTC) < ended + timedelta(seconds=1)
    assert sorted(t["status"] for t in tasks.values()) == ["expired"]


def _moment_with_a_call_task(loan: str, at: datetime) -> MomentRecord:
    status = AccountStatus(
        loan_id=loan,
        state="delinquent",
        dpd=2,
        bucket="M1",
        stage="front_end",
        amount_overdue=Decimal("1201.20"),
        penalty_accrued=Decimal("1.20"),
        strategy=StrategyRef(name="default", version=1),
    )
    call = ActionCommand(
        seq=3,
        at=at,
        kind="call_task",
        channel="call",
        stage="front_end",
        step_id="fe_call_2",
        detail={"dpd": 2, "amount_overdue": "1201.20", "to": "+8613800138000"},
        task_window=(at, at + timedelta(hours=1, minutes=30)),
        priority=Decimal("1201.20"),
    )
    return MomentRecord(
        loan_id=loan,
        workflow_id=f"account-{loan}",
        episode="0f1e2d3c-episode",
        at=at,
        status=status,
        segment="standard",
        actions=[call],
    )


def test_a_retried_moment_creates_its_call_task_exactly_once(database_url: str) -> None:
    loan = "L-TASK-ONCE"
    moment = _moment_with_a_call_task(loan, datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    activities = MomentActivities(database_url)

    first = activities.apply_moment(moment)
    # The worker died after the commit, before Temporal heard back: the activity runs again.
    again = activities.apply_moment(moment)

    assert first["actions"] == 1 and again["actions"] == 0
    tasks = store_rows(database_url, TaskRow, loan)
    assert [t["task_id"] for t in tasks] == [task_id_for(loan, moment.episode, 3)]
    assert tasks[0]["detail"]["to"] == "+8613800138000"
    assert len(store_rows(database_url, ActionRow, loan)) == 1
