"""The collection ladder of PLAYBOOK.md sections 1–4 and 7, run by the real AccountWorkflow on the
time-skipping server, driven through the API. What is checked is the workflow's own decisions,
so `apply_moment` is recorded in memory (tests/workflows/moments.py), not written to the store."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.helpers import (
    account_json,
    business_today,
    pay,
    sleep_until,
    start,
    status,
)
from tests.workflows.moments import MomentRecorder


async def test_paid_before_the_due_date_ends_paid_on_time_after_exactly_one_reminder(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    started = await start(api, account_json("L-ONTIME", due))
    assert started["state"] == "pre_due"
    assert started["next_action"]["kind"] == "sms_reminder"
    await sleep_until(workflow_env, due - timedelta(days=1), hour=12)
    await pay(api, "L-ONTIME", "pay-1", "1200.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, due + timedelta(days=3))
    final = await status(api, "L-ONTIME")
    assert final["state"] == "paid_on_time"
    assert [a.kind for a in moments.actions("L-ONTIME")] == ["sms_reminder"]


async def test_cured_at_dpd_10_penalty_is_rate_times_overdue_times_days_and_then_stops(
    workflow_env: WorkflowEnvironment, recording_worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json("L-CURE10", due))
    await sleep_until(workflow_env, due + timedelta(days=10), hour=12)
    before = await status(api, "L-CURE10")
    assert before["state"] == "delinquent" and before["dpd"] == 10
    assert before["bucket"] == "M1" and before["stage"] == "front_end"
    # 1200.00 × 0.0005 × 10 days overdue (days 1..10)
    penalty = Decimal("1200.00") * Decimal("0.0005") * 10
    assert Decimal(before["penalty_accrued"]) == penalty
    assert Decimal(before["amount_overdue"]) == Decimal("1200.00") + penalty
    await pay(
        api,
        "L-CURE10",
        "p-1",
        str(Decimal("1200.00") + penalty),
        await workflow_env.get_current_time(),
    )
    await sleep_until(workflow_env, due + timedelta(days=40))
    after = await status(api, "L-CURE10")
    assert after["state"] == "cured"
    assert Decimal(after["penalty_accrued"]) == penalty
    assert Decimal(after["amount_overdue"]) == 0
    assert after["path"] == ["current", "M1", "current"]
