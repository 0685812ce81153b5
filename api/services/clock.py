"""Moving the virtual clock (ARREARS_CLOCK=server; docs/virtual-time.md): `GET /v1/sandbox/clock`
and `POST /v1/sandbox/clock/advance`.

The time-skipping server already fires every timer at its own instant and holds the clock while a
workflow task or an activity runs. What it cannot see is what happens outside Temporal in real
time: the sandbox gateway playing an SMS out and posting its status callbacks, which reach a
workflow through our webhooks. So the clock moves in steps — just past each account's next moment
(its status query's `next_action`) and each open task's window bound (the store), and never more
than MAX_STEP at once — and between steps it waits until the system has settled: no workflow
task and no activity in flight on any running workflow (accounts, their children: the test
server lists open executions), and nothing still playing out at the sandbox gateway. A status,
a task list or an outbox read after the answer is the one of the new instant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ListOpenWorkflowExecutionsRequest,
    QueryWorkflowRequest,
)
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from core.clock import server_time, skip
from core.settings import Settings
from store.engine import session_scope
from store.models import TaskRow
from workflows.contracts import ACCOUNT_WORKFLOW, AccountQuery, AccountStatus

log = logging.getLogger(__name__)

# The longest advance one call may ask for: a whole year covers an episode from the reminder to
# write-off and beyond, and keeps one HTTP call to well under a minute for a training portfolio.
MAX_ADVANCE = timedelta(days=366)
# The longest single step between two settled states when no account has a moment sooner: the
# server fires timers on its own inside a step; steps bound how long an outside effect (an SMS
# status callback) could lag behind a moment no account named. A day keeps a 40-day advance of a
# few accounts to seconds (measured: 54 steps, 6 s, most of it the sandbox's callback delays).
MAX_STEP = timedelta(days=1)
# A moment is stepped just past, so its timer fires inside the step, not at its very end.
PAST_MOMENT = timedelta(seconds=1)
# How long (real seconds) one step may take to settle before the advance gives up and says so.
SETTLE_SECONDS = 60.0
POLL_SECONDS = 0.05
# How many times one step is asked of the server when its call breaks.
SKIP_ATTEMPTS = 3
# A clock locked this long (real seconds) with nothing in flight is stalled.
STALL_SECONDS = 60.0
STALL_POLL_SECONDS = 5.0
LOOK_AT_ONCE = 16
# Answered by the SDK itself for every workflow: a cheap query that still waits for a workflow
# task in flight (the server answers queries between tasks).
METADATA_QUERY = "__temporal_workflow_metadata"


@dataclass(frozen=True)
class Advance:
    """What one advance did: from when, to when, in how many settled steps."""

    started: datetime
    now: datetime
    steps: int


def target_of(
    now: datetime, days: int | None, hours: int | None, until: datetime | None
) -> datetime:
    """The instant an advance asks for, or a 422 saying what is wrong with the request."""
    if until is not None and (days is not None or hours is not None):
        raise ApiError(422, "invalid_input", "Give either `until` or `days`/`hours`, not both.")
    if until is None and days is None and hours is None:
        raise ApiError(422, "invalid_input", "Say how far to advance: `days`, `hours` or `until`.")
    target = until if until is not None else now + timedelta(days=days or 0, hours=hours or 0)
    if target <= now:
        raise ApiError(
            422,
            "invalid_input",
            f"The virtual clock only moves forward: {target.isoformat()} is not after the "
            f"current virtual instant {now.isoformat()}.",
            details={"now": now.isoformat()},
        )
    if target - now > MAX_ADVANCE:
        raise ApiError(
            422,
            "invalid_input",
            f"At most {MAX_ADVANCE.days} days per advance; advance again for more.",
            details={"now": now.isoformat(), "max_days": MAX_ADVANCE.days},
        )
    return target


# ----------------------------------------------------------------------------- what to watch


def task_bounds(url: str) -> list[datetime]:
    """The open tasks' window bounds: the instants a task becomes workable or expires."""
    with session_scope(url) as session:
        tasks = session.exec(select(TaskRow).where(TaskRow.status == "open")).all()
    bounds = [b for task in tasks for b in (task.not_before, task.not_after) if b is not None]
    return sorted(_utc(bound) for bound in bounds)


async def open_workflows(client: Client) -> list[tuple[str, str]]:
    """(workflow id, type) of every running workflow: accounts, their children, anything. The
    test server cannot answer visibility queries but does list open executions."""
    found: list[tuple[str, str]] = []
    token = b""
    while True:
        page = await client.workflow_service.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(
                namespace=client.namespace, maximum_page_size=1000, next_page_token=token
            )
        )
        found += [(e.execution.workflow_id, e.type.name) for e in page.executions]
        token = page.next_page_token
        if not token:
            return found


def _utc(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def next_step(now: datetime, target: datetime, moments: Iterable[datetime]) -> datetime:
    """Just past the next moment after `now`, but never beyond `target` or `now + MAX_STEP`."""
    end = min(target, now + MAX_STEP)
    for moment in sorted(moments):
        if now < moment and moment + PAST_MOMENT <= end:
            return moment + PAST_MOMENT
    return end


# ----------------------------------------------------------------------------- settling


@dataclass(frozen=True)
class Look:
    """One look at a workflow: is work in flight, and when does it next act (accounts only)."""

    busy: bool
    next_at: datetime | None = None


async def _ask(client: Client, workflow_id: str, as_of: datetime, account: bool) -> datetime | None:
    """Query the workflow: the server answers a query between workflow tasks, so this returns
    only once a task in flight has finished. An account answers its status, whose next action
    is the next moment the clock should stop at; any other workflow the SDK's metadata query."""
    try:
        if account:
            status = await client.get_workflow_handle(workflow_id).query(
                AccountQuery.STATUS,
                as_of,
                result_type=AccountStatus,
                rpc_timeout=timedelta(seconds=10),
            )
            return _utc(status.next_action.at) if status.next_action else None
        await client.workflow_service.query_workflow(
            QueryWorkflowRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                query=WorkflowQuery(query_type=METADATA_QUERY),
            ),
            timeout=timedelta(seconds=10),
        )
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
        log.debug("settling: query of %s failed: %s", workflow_id, error)
    return None


async def look(client: Client, workflow_id: str, kind: str, as_of: datetime) -> Look:
    """A workflow task or an activity in flight on the workflow, and its next moment."""
    next_at = await _ask(client, workflow_id, as_of, account=kind == ACCOUNT_WORKFLOW)
    try:
        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return Look(busy=False)
        # Not known to be quiet: look again next round (the deadline bounds the waiting).
        log.warning("settling: describing %s failed: %s", workflow_id, error)
        return Look(busy=True, next_at=next_at)
    running = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    if described.workflow_execution_info.status != running:
        return Look(busy=False)
    return Look(busy=bool(described.pending_activities), next_at=next_at)


async def _look_all(
    client: Client, running: list[tuple[str, str]], as_of: datetime
) -> dict[str, Look]:
    """Look at every running workflow, LOOK_AT_ONCE at a time (a training portfolio has
    hundreds)."""
    gate = asyncio.Semaphore(LOOK_AT_ONCE)

    async def one(workflow_id: str, kind: str) -> Look:
        async with gate:
            return await look(client, workflow_id, kind, as_of)

    found = await asyncio.gather(*(one(wid, kind) for wid, kind in running))
    return {wid: seen for (wid, _kind), seen in zip(running, found, strict=True)}


async def _gateway_in_flight(http: httpx.AsyncClient, settings: Settings) -> int:
    """Messages and callbacks the sandbox gateway is still playing out (0 with real Twilio, or
    when the gateway does not answer: activities that need it then stay in flight instead)."""
    if settings.uses_twilio:
        return 0
    account_sid, token, _from = settings.twilio_account
    url = settings.sandbox_url.rstrip("/") + "/sandbox/in-flight"
    try:
        response = await http.get(url, auth=(account_sid, token))
    except httpx.HTTPError:
        return 0
    if response.status_code != 200:
        return 0
    return int(response.json().get("in_flight", 0))


async def settle(client: Client, http: httpx.AsyncClient, settings: Settings) -> list[datetime]:
    """Wait until nothing is in flight twice in a row (an activity that completes between the
    two looks of a round schedules a workflow task the next round waits for); 504 after
    SETTLE_SECONDS, naming what is still busy. Returns the moments named next (open tasks'
    window bounds, each account's next action)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    quiet_rounds = 0
    while True:
        as_of = await server_time(client)
        running = await open_workflows(client)
        looks = await _look_all(client, running, as_of)
        busy = sorted(wid for wid, one in looks.items() if one.busy)
        in_flight = await _gateway_in_flight(http, settings)
        quiet_rounds = quiet_rounds + 1 if not busy and not in_flight else 0
        if quiet_rounds >= 2:
            bounds = await asyncio.to_thread(task_bounds, settings.effective_database_url)
            nexts = [one.next_at for one in looks.values() if one.next_at is not None]
            return sorted([*bounds, *nexts])
        if time.monotonic() > deadline:
            raise ApiError(
                504,
                "not_settled",
                f"The system did not settle within {int(SETTLE_SECONDS)} s at virtual "
                f"{as_of.isoformat()}: work is still in flight (see details); the clock stays "
                "there, advance again once it has finished.",
                details={"now": as_of.isoformat(), "busy": busy, "sandbox_in_flight": in_flight},
            )
        await asyncio.sleep(POLL_SECONDS if busy or in_flight else 0)


# ----------------------------------------------------------------------------- advancing


async def _stalled(
    client: Client, clock: Client, http: httpx.AsyncClient, settings: Settings
) -> datetime:
    """Returns (the clock's instant) once the server has kept its clock locked for
    STALL_SECONDS while nothing is in flight: no activity on any running workflow, nothing at the
    sandbox gateway. Seen with dozens of accounts crossing a stage boundary (continue-as-new) at
    the same virtual instant: the worker's log says "workflow execution already completed" and
    the test server never lets the clock go on."""
    last, last_real = await server_time(clock), time.monotonic()
    quiet_since: float | None = None
    while True:
        await asyncio.sleep(STALL_POLL_SECONDS)
        now, real = await server_time(clock), time.monotonic()
        skipping = (now - last).total_seconds() > 2 * (real - last_real) + 1
        last, last_real = now, real
        if skipping:
            quiet_since = None
            continue
        busy = False
        try:
            for workflow_id, _kind in await open_workflows(client):
                described = await client.workflow_service.describe_workflow_execution(
                    DescribeWorkflowExecutionRequest(
                        namespace=client.namespace,
                        execution=WorkflowExecution(workflow_id=workflow_id),
                    )
                )
                if described.pending_activities:
                    busy = True
                    break
        except RPCError:
            busy = True  # not known to be quiet
        if busy or await _gateway_in_flight(http, settings):
            quiet_since = None
            continue
        quiet_since = quiet_since or real
        if real - quiet_since >= STALL_SECONDS:
            return now


async def _skip_to(
    client: Client, clock: Client, http: httpx.AsyncClient, settings: Settings, end: datetime
) -> None:
    """One step, to `end`. A busy day for a whole portfolio keeps the server's sleep call open
    for minutes, and such a call has been seen to break (an HTTP/2 error) with the clock short
    of its end: the step is then asked again for what is left, SKIP_ATTEMPTS times at most. A
    clock the server keeps locked with nothing in flight is a 504 `clock_stalled`."""
    failure: RPCError | None = None
    for _attempt in range(SKIP_ATTEMPTS):
        reached = await server_time(clock)
        if reached >= end:
            return
        sleeper = asyncio.create_task(skip(clock, end - reached))
        watchdog = asyncio.create_task(_stalled(client, clock, http, settings))
        await asyncio.wait({sleeper, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        if not sleeper.done():
            sleeper.cancel()
            stuck = watchdog.result()
            raise ApiError(
                504,
                "clock_stalled",
                f"The test server keeps its clock locked at {stuck.isoformat()} with nothing in "
                f"flight (step to {end.isoformat()}): it lost track of a workflow task. The "
                "state so far stands; restart `arrears up --virtual-time` to go on from an "
                "empty system (docs/virtual-time.md, limits).",
                details={"now": stuck.isoformat()},
            )
        watchdog.cancel()
        try:
            sleeper.result()
            return
        except RPCError as error:
            log.warning("the step to %s broke at %s (%s): asking again", end, reached, error)
            failure = error
            await asyncio.sleep(1)
    reached = await server_time(clock)
    if reached >= end:
        return
    raise ApiError(
        504,
        "not_settled",
        f"The step to {end.isoformat()} did not finish ({failure.message if failure else ''}); "
        f"the virtual clock is at {reached.isoformat()}: advance again to go on.",
        details={"now": reached.isoformat()},
    ) from failure


async def advance_alone(
    lock: asyncio.Lock, client: Client, settings: Settings, target: datetime
) -> Advance:
    """`advance`, one at a time per API process: a second while one moves the clock is told to
    wait (409), from the JSON endpoint and the desk alike."""
    if lock.locked():
        raise ApiError(
            409, "advance_in_progress", "Another advance is moving the clock; wait for its answer."
        )
    async with lock:
        return await advance(client, settings, target)


async def advance(client: Client, settings: Settings, target: datetime) -> Advance:
    """Move the virtual clock to `target` step by step, settling after each step."""
    started = await server_time(client)
    # The steps' long calls go on a connection of their own: a burst of webhook signals and
    # queries on the shared one must not take a step down with it (a broken step has been seen
    # to leave the clock locked).
    clock = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        keep_alive_config=None,
    )
    async with httpx.AsyncClient(timeout=5) as http:
        return await _advance(client, clock, http, settings, target, started)


async def _advance(
    client: Client,
    clock: Client,
    http: httpx.AsyncClient,
    settings: Settings,
    target: datetime,
    started: datetime,
) -> Advance:
    moments = await settle(client, http, settings)
    steps = 0
    while True:
        now = await server_time(client)
        if now >= target:
            return Advance(started=started, now=now, steps=steps)
        await _skip_to(client, clock, http, settings, next_step(now, target, moments))
        moments = await settle(client, http, settings)
        steps += 1
