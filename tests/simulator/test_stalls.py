"""The simulator keeps off the instants the workflows wake at, and says which run the test server
stranded instead of waiting for ever (simulator/stalls.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from simulator.stack import TEST_SERVER
from simulator.stalls import (
    STRANDED_CHECKS,
    StrandedWatch,
    busy,
    off_grid,
    workflow_task_outstanding,
)

AT = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def test_a_stop_never_lands_on_a_whole_minute_or_a_whole_second() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        offset = off_grid(rng)
        assert timedelta(seconds=5) <= offset < timedelta(seconds=55)
        assert offset.microseconds > 0  # never a whole second: no workflow wakes there


def test_the_same_seed_puts_the_stops_at_the_same_instants() -> None:
    first = [off_grid(random.Random(3)) for _ in range(5)]
    again = [off_grid(random.Random(3)) for _ in range(5)]
    assert first == again


def test_a_workflow_task_outstanding_through_every_check_at_one_instant_fails_the_run() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT, ["account-L-1: workflow task", "account-L-2: activity send_sms"])
    with pytest.raises(RuntimeError, match=r"stranded account-L-1 at .*sdk-java#3088"):
        watch.check(AT, ["account-L-1: workflow task"])


def test_a_clock_that_moved_or_a_task_that_finished_starts_the_count_again() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT, ["account-L-1: workflow task"])
    watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])  # the clock moved
    for _ in range(STRANDED_CHECKS - 2):
        watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])
    watch.check(AT + timedelta(minutes=1), [])  # its task finished
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])


def test_an_activity_in_flight_never_counts_as_stranded() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS * 3):
        watch.check(AT, ["account-L-1: activity send_letter"])


async def test_the_stall_scan_sees_a_workflow_task_the_test_servers_describe_never_shows() -> None:
    """The time-skipping test server leaves DescribeWorkflowExecution's pending_workflow_task
    empty, so a scan by describe alone called a run whose task stood outstanding idle: no
    stranded run was ever named, and the scan released the time-skipping lock that task held
    (the two-process stall, issue 19). The scan reads the task from the history instead, while
    scheduled and while a worker holds it."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        client = env.client
        now = await env.get_current_time()
        handle = await client.start_workflow("Anything", id="stalled-1", task_queue="nobody")
        described = await handle.describe()
        assert not described.raw_description.HasField("pending_workflow_task")
        assert await busy(client, "stalled-1", now) == "stalled-1: workflow task"
        await client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name="nobody"), identity="t"
            ),
            timeout=timedelta(seconds=10),
        )
        assert await workflow_task_outstanding(handle)  # started, with a worker
        assert await busy(client, "stalled-1", now) == "stalled-1: workflow task"
        assert await busy(client, "never-started", now) is None
    finally:
        await env.shutdown()
