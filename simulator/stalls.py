"""What keeps the simulator clear of the time-skipping test server's one way to strand a run, and
what makes it say so instead of waiting for ever when a run is stranded all the same.

The server refuses the completion of a workflow task that cancels a timer which fired while the
task was with the worker ("invalid history builder state for action", temporalio/sdk-java#3088)
and never times that task out or sends it again: the run stands still, and so does the clock.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

__all__ = ["STRANDED_CHECKS", "StrandedWatch", "busy", "off_grid", "workflow_task_outstanding"]

STRANDED_CHECKS = 4
"""Stall checks in a row that find one workflow's task outstanding while the clock stands still
before the run is given up as stranded."""


def off_grid(rng: random.Random) -> timedelta:
    """Where in its minute a stop lands: between 5 and 55 seconds in, to the microsecond.

    The workflows wake on whole minutes (a contact window opening at 09:00, a step's hour) or a
    whole number of minutes after a message (a follow-up hours after an outcome), and a timer
    fires a few milliseconds after its instant (the workflow task's own time). A payment or an
    outcome sent at such an instant races that timer: which comes first changes what the account
    does, and if the message's task cancels the timer the server strands the run. Stops off the
    grid are never such instants; the skip to a stop fires and settles every timer due before
    it."""
    return timedelta(seconds=rng.randrange(5, 55), microseconds=rng.randrange(1_000_000))


OPENS_A_TASK = frozenset(
    {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}
)
CLOSES_A_TASK = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    }
)


async def workflow_task_outstanding(handle: WorkflowHandle[object, object]) -> bool:
    """Whether the run has a workflow task scheduled or started and not yet closed, read from
    its history: the time-skipping test server never fills DescribeWorkflowExecution's
    `pending_workflow_task` (tests/simulator/test_stalls.py), so describe alone calls a run whose
    task stands outstanding idle."""
    outstanding = False
    async for event in handle.fetch_history_events():
        if event.event_type in OPENS_A_TASK:
            outstanding = True
        elif event.event_type in CLOSES_A_TASK:
            outstanding = False
    return outstanding


async def busy(client: Client, workflow_id: str, before: datetime) -> str | None:
    """What keeps the workflow busy in real time while the clock stands at `before`, or None:
    "<id>: workflow task" or "<id>: activity <type>". An activity waiting for its next retry (a
    virtual-time backoff) is not busy: it needs the clock to move."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        raw = await handle.describe()
        if raw.status != WorkflowExecutionStatus.RUNNING:
            return None
        info = raw.raw_description
        if info.HasField("pending_workflow_task"):
            return f"{workflow_id}: workflow task"
        for pending in info.pending_activities:
            waiting = pending.HasField("next_attempt_schedule_time") and (
                pending.next_attempt_schedule_time.ToDatetime(tzinfo=UTC) > before
            )
            if pending.state != PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED or (
                not waiting
            ):
                return f"{workflow_id}: activity {pending.activity_type.name}"
        if await workflow_task_outstanding(handle):
            return f"{workflow_id}: workflow task"
    except RPCError:
        return None
    return None


class StrandedWatch:
    """Counts, per instant the clock stands still at, the stall checks that found each workflow's
    task outstanding, and fails the run naming the workflows past STRANDED_CHECKS of them."""

    def __init__(self, stall_seconds: float) -> None:
        self._stall_seconds = stall_seconds
        self._at: datetime | None = None
        self._seen: Counter[str] = Counter()

    def check(self, at: datetime, working: list[str]) -> None:
        """`working` is the stall scan's answer: "<workflow id>: workflow task" for a workflow
        whose task is outstanding (other entries, activities, are not counted)."""
        stuck = {w.split(": ", 1)[0] for w in working if w.endswith(": workflow task")}
        if self._at != at:
            self._at, self._seen = at, Counter()
        self._seen = Counter({w: self._seen[w] + 1 for w in stuck})
        stranded = sorted(w for w, n in self._seen.items() if n >= STRANDED_CHECKS)
        if stranded:
            waited = STRANDED_CHECKS * self._stall_seconds
            raise RuntimeError(
                f"the test server stranded {', '.join(stranded[:5])} at {at.isoformat()}: its "
                f"workflow task stood outstanding for {waited:.0f} s "
                "while the clock stood still (a completion the server refused, e.g. "
                "temporalio/sdk-java#3088); nothing will move it"
            )
