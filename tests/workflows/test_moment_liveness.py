"""A dead worker's moment is taken over well before a minute (issue 21 item 9): the workflow
schedules `apply_moment` with a heartbeat timeout, and the moment heartbeats before each delivery
(activities/liveness.py), so another worker retries it at the heartbeat timeout plus the first
retry interval instead of at the 60 s start-to-close timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.liveness import TAKE_OVER_WITHIN
from tests.workflows.helpers import account_json, business_today, pay, start
from tests.workflows.moments import MomentRecorder
from workflows.account.effects import RECORD_RETRY
from workflows.contracts import workflow_id_for


async def test_the_moment_is_scheduled_so_a_dead_workers_moment_is_retried_within_45_seconds(
    api: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("LIVE-1", due))
    await pay(api, "LIVE-1", "PAY-L", "10.00", await workflow_env.get_current_time())
    handle = workflow_env.client.get_workflow_handle(workflow_id_for("LIVE-1"))
    scheduled = []
    for _ in range(100):
        scheduled = [
            e.activity_task_scheduled_event_attributes
            for e in (await handle.fetch_history()).events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "apply_moment"
        ]
        if scheduled and moments.moments:
            break
        await asyncio.sleep(0.05)
    assert scheduled, "no moment was scheduled"
    for options in scheduled:
        heartbeat = options.heartbeat_timeout.ToTimedelta()
        start_to_close = options.start_to_close_timeout.ToTimedelta()
        assert heartbeat > timedelta(0), "no heartbeat timeout: a dead worker's moment waits 60 s"
        noticed = min(heartbeat, start_to_close)
        retried_by = noticed + RECORD_RETRY.initial_interval
        assert retried_by < TAKE_OVER_WITHIN, (heartbeat, start_to_close)
