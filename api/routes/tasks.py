"""Work queues for people (CONTRACT.md "Task and outcomes"; issue 6).

Collectors list the tasks they may work now, claim one, and report what happened. An outcome is
checked here (who may act, whether it fits the task's kind, four eyes on approvals) before it goes
anywhere, then delivered to the account's workflow with the `task_outcome` update under the id
`outcome-{task_id}`, and only written to the store once the workflow accepted it. A retry of the
same request re-sends the same update (Temporal and the workflow both dedup it by task id) and
completes the store write, so an outcome is in workflow history exactly once or the caller got an
error.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, Role, require
from api.errors import ApiError, raise_known_update_failure
from api.services import paging
from api.services.episodes import UPDATE_ERRORS
from api.services.tasks import Task, store_error
from api.state import business_now, database_url, require_temporal
from domain.calendar import local_date
from domain.outcomes import OutcomeIn, outcome_error
from domain.strategy import StrategyError, load_strategy
from store import tasks as queue
from store.engine import as_utc, session_scope
from store.models import TaskRow
from store.task_detail import task_detail
from workflows.contracts import AccountUpdate, TaskOutcome, TaskOutcomeResult, workflow_id_for

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

TaskKind = Literal["call", "field_visit", "skip_trace", "verification", "approval"]
TaskStatus = Literal["open", "done", "expired", "cancelled"]

SUPERVISOR_ONLY_KINDS = ("approval",)
"""Approvals are a supervisor's (issue 7, roles): collectors neither see nor act on them."""
ANTI_FRAUD_KIND: TaskKind = "verification"
ANTI_FRAUD_KINDS: tuple[TaskKind, ...] = (ANTI_FRAUD_KIND,)
"""Verifying a death, a bankruptcy or a charge-off file is the anti-fraud team's (PLAYBOOK.md
section 8; issue 17 item 2), not any collector's: collectors neither see nor act on them, and
the anti-fraud team sees and acts on nothing else (a supervisor may do everything)."""
NOT_FOR_COLLECTORS = SUPERVISOR_ONLY_KINDS + ANTI_FRAUD_KINDS
LEGAL_APPROVES = "lawsuit_filing"
"""Approving a lawsuit filing is the legal team's (issue 17 item 4): an `approval` task whose
`detail.approves` is this. The legal role sees and works only these; a collector none; a
supervisor sees them but does not decide them."""

TaskWorkerDep = Annotated[
    Principal, Depends(require(Role.COLLECTOR, Role.SUPERVISOR, Role.ANTI_FRAUD, Role.LEGAL))
]
"""Who works tasks: collectors, the anti-fraud and legal teams (their kinds only), and
supervisors."""

UPDATE_TIMEOUT = timedelta(seconds=30)
"""How long the API waits for the workflow to accept an outcome before answering 503 (retry)."""

UNREACHABLE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
    }
)


@lru_cache(maxsize=1)
def _queue_timezone() -> str:
    """The portfolio's home time zone (the default strategy's): "promises due today" is judged on
    its calendar, the one the workflow writes `promise_due` in for the accounts it serves."""
    try:
        return load_strategy("default").timezone_default
    except StrategyError:
        return "UTC"


def _forbid_kind(who: Principal, kind: str | None, action: str) -> None:
    """403 unless the caller's role works tasks of `kind` (None: any kind the role works)."""
    if who.role == Role.COLLECTOR and kind in SUPERVISOR_ONLY_KINDS:
        raise ApiError(403, "forbidden", f"Only a supervisor may {action} {kind} tasks.")
    if who.role == Role.COLLECTOR and kind in ANTI_FRAUD_KINDS:
        raise ApiError(
            403, "forbidden", f"Only the anti-fraud team or a supervisor may {action} {kind} tasks."
        )
    if who.role == Role.LEGAL and kind is not None and kind != "approval":
        raise ApiError(
            403, "forbidden", f"The legal team works lawsuit filing approvals, not {kind} tasks."
        )
    if who.role == Role.ANTI_FRAUD and kind is not None and kind not in ANTI_FRAUD_KINDS:
        raise ApiError(
            403,
            "forbidden",
            f"The anti-fraud team works {', '.join(ANTI_FRAUD_KINDS)} tasks, not {kind} tasks.",
        )


def _forbid_row(who: Principal, row: TaskRow, action: str) -> None:
    """403 unless the caller's role works this task: its kind, and for an approval what it
    approves (a lawsuit filing is the legal team's alone to decide)."""
    filing = row.kind == "approval" and task_detail(row.detail).approves == LEGAL_APPROVES
    if who.role == Role.LEGAL and not filing:
        raise ApiError(
            403, "forbidden", f"The legal team works lawsuit filing approvals, not this {row.kind}."
        )
    if who.role == Role.SUPERVISOR and filing and action != "list":
        raise ApiError(
            403, "forbidden", f"Only the legal team may {action} a lawsuit filing approval."
        )
    if who.role != Role.SUPERVISOR:
        _forbid_kind(who, row.kind, action)


def _forbid_if_not_theirs(who: Principal, row: TaskRow, action: str) -> None:
    """A collector acts only on tasks assigned to them or to nobody, never on approvals or
    verifications; the anti-fraud team only on verifications, the legal team only on lawsuit
    filing approvals, theirs or nobody's; a supervisor on everything but filing approvals."""
    _forbid_row(who, row, action)
    if who.role == Role.SUPERVISOR:
        return
    if row.assignee is not None and row.assignee != who.user:
        raise ApiError(
            403,
            "forbidden",
            f"Task {row.task_id} is assigned to someone else; you may not {action} it.",
        )


def _load(request: Request, task_id: str) -> TaskRow:
    """The task as stored now, or 404 (runs in a worker thread)."""
    try:
        with session_scope(database_url(request)) as session:
            return queue.get_task(session, task_id)
    except queue.TaskError as exc:
        raise store_error(exc) from exc


@router.get(
    "",
    summary="The tasks to work now, best first",
    description=(
        "Open tasks whose window is open now (`not_before <= now < not_after`), best first: "
        "promises due today, then overdue amount × stage risk, then the window closing soonest. "
        "A collector sees tasks assigned to them or to nobody; a supervisor sees everyone's and "
        "may filter by any assignee. A `status` other than open lists closed tasks. More than "
        "`limit` → the next page's `cursor` in the `X-Next-Cursor` header (v1.1); the queue is "
        "ranked anew for each page, over its first 1000 tasks."
    ),
    response_model=list[Task],
)
async def list_tasks(
    *,
    request: Request,
    kind: TaskKind | None = Query(None, description="call, field_visit, skip_trace, ..."),
    status: TaskStatus | None = Query(None, description="open (default), done, expired, cancelled"),
    assignee: str | None = Query(None, max_length=80, description="one person's tasks"),
    include_future: bool = Query(False, description="also open tasks whose window opens later"),
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=400, description="X-Next-Cursor of a page"),
    who: TaskWorkerDep,
    response: Response,
) -> list[Task]:
    offset = paging.offset_of("tasks", cursor)
    viewer: str | None = None
    excluded: tuple[str, ...] = ()
    approves = LEGAL_APPROVES if who.role == Role.LEGAL else None
    if who.role in (Role.COLLECTOR, Role.ANTI_FRAUD, Role.LEGAL):
        if assignee is not None and assignee != who.user:
            raise ApiError(403, "forbidden", "Only a supervisor may list someone else's tasks.")
        _forbid_kind(who, kind, "list")
        viewer = who.user
        if who.role == Role.COLLECTOR:
            excluded = NOT_FOR_COLLECTORS
        elif who.role == Role.LEGAL:
            kind = "approval"
        else:
            kind = kind or ANTI_FRAUD_KIND
    now = await business_now(request)
    today = local_date(now, _queue_timezone())

    def read() -> list[Task]:
        with session_scope(database_url(request)) as session:
            rows = queue.open_tasks(
                session,
                now,
                kind=kind,
                status=status,
                assignee=assignee,
                viewer=viewer,
                include_future=include_future,
                limit=offset + limit + 1,
                today=today,
                exclude_kinds=excluded,
                approves=approves,
            )
            return [Task.of(row) for row in rows[offset:]]

    tasks = await asyncio.to_thread(read)
    more = len(tasks) > limit
    next_cursor = paging.encode("tasks", {"offset": offset + limit}) if more else None
    paging.announce_next(request, response, next_cursor)
    return tasks[:limit]


@router.post(
    ":claim-next",
    summary="Claim the best unassigned task",
    description="Atomically assigns the best unassigned open task to the caller (two callers at "
    "once always get different tasks). 404 `no_task` when there is nothing to take.",
    response_model=Task,
)
async def claim_next_task(
    *,
    request: Request,
    kind: TaskKind | None = Query(None),
    who: TaskWorkerDep,
) -> Task:
    if who.role != Role.SUPERVISOR:
        _forbid_kind(who, kind, "claim")
    excluded = NOT_FOR_COLLECTORS if who.role == Role.COLLECTOR else ()
    approves = LEGAL_APPROVES if who.role == Role.LEGAL else None
    if who.role == Role.ANTI_FRAUD:
        kind = kind or ANTI_FRAUD_KIND
    if who.role == Role.LEGAL:
        kind = "approval"
    now = await business_now(request)
    today = local_date(now, _queue_timezone())

    def claim() -> TaskRow | None:
        with session_scope(database_url(request)) as session:
            return queue.claim_next(
                session,
                who.user,
                now,
                kind,
                today=today,
                exclude_kinds=excluded,
                approves=approves,
                # a supervisor does not decide filings: never hand them one
                exclude_approves=LEGAL_APPROVES if who.role == Role.SUPERVISOR else None,
            )

    row = await asyncio.to_thread(claim)
    if row is None:
        raise ApiError(404, "no_task", "No unassigned task is open now.")
    return Task.of(row)


@router.post(
    "/{task_id}/claim",
    summary="Claim a task",
    description="Assigns the task to the caller, atomically: two collectors asking at once never "
    "both get it. Claiming your own task again changes nothing. Held by someone else or closed → "
    "409; unknown → 404.",
    response_model=Task,
)
async def claim_task(
    task_id: str,
    request: Request,
    who: TaskWorkerDep,
) -> Task:
    row = await asyncio.to_thread(_load, request, task_id)
    _forbid_row(who, row, "claim")
    now = await business_now(request)

    def claim() -> TaskRow:
        with session_scope(database_url(request)) as session:
            return queue.claim_task(session, task_id, who.user, now)

    try:
        return Task.of(await asyncio.to_thread(claim))
    except queue.TaskError as exc:
        raise store_error(exc) from exc


@router.post(
    "/{task_id}/outcome",
    summary="Report what happened on a task",
    description="Checked in this order: the task exists (404); the caller may act on it (403: a "
    "collector only on tasks assigned to them or unassigned, which recording claims); the "
    "outcome fits the task's kind (422, nothing reaches the workflow); four eyes on approvals "
    "(403 for the requester); the task's window has opened (409 `task_not_open`, "
    "`details.not_before`: the contact rules' earliest instant, unless `unscheduled: true` says "
    "the contact really happened early: it is then audited against the contact rules and a "
    "supervisor gets an approval task to review it). Then delivered to the account's workflow "
    "once (update "
    "`task_outcome`, id `outcome-{task_id}`): the workflow's refusals map to 404/409/422, a closed "
    "workflow to 409, Temporal unreachable to 503 (nothing recorded; retry). Posting the same "
    "outcome again answers 200 and changes nothing; a different one for a done task → 409.",
    response_model=Task,
)
async def post_outcome(
    task_id: str,
    body: OutcomeIn,
    request: Request,
    who: TaskWorkerDep,
) -> Task:
    url = database_url(request)
    row = await asyncio.to_thread(_load, request, task_id)
    _forbid_if_not_theirs(who, row, "report on")
    problem = outcome_error(row.kind, body)
    if problem:
        raise ApiError(422, "invalid_outcome", problem)
    if row.kind == "approval" and task_detail(row.detail).requested_by == who.user:
        raise ApiError(
            403, "four_eyes", "An approval must be decided by someone other than its requester."
        )
    if row.status == queue.DONE:
        if row.outcome == queue.outcome_payload(body):
            return Task.of(row)  # a retry of a request that completed: nothing to do
        raise ApiError(
            409,
            "outcome_conflict",
            f"Task {task_id} already has the outcome {(row.outcome or {}).get('outcome')!r}.",
        )
    if row.status != queue.OPEN:
        raise ApiError(409, "task_closed", f"Task {task_id} is {row.status}; it takes no outcome.")
    client = await require_temporal(request)
    now = await business_now(request)
    refuse_before_window(row, now, unscheduled=bool(body.unscheduled))
    claimed_here = await _claim_if_unassigned(url, row, who.user, now)
    try:
        effect = await _deliver(client, row, body, who, now)
    except Exception:
        if claimed_here:
            await asyncio.to_thread(_release, url, task_id, who.user, now)
        raise

    def record() -> TaskRow:
        with session_scope(url) as session:
            return queue.record_outcome(session, task_id, body, who.user, now)

    try:
        return Task.of(await asyncio.to_thread(record), effect=effect)
    except queue.TaskError as exc:
        raise store_error(exc) from exc


def refuse_before_window(row: TaskRow, now: datetime, *, unscheduled: bool = False) -> None:
    """CONTRACT.md v1.1: an outcome on a task whose window has not opened → 409 `task_not_open`.
    The window's start is the compliance gate's earliest allowed instant for the contact (a
    calling-hours window, a rest day, a cap, a pause after a conversation), so working the task
    earlier would be a contact the rules forbid; `details.not_before` says when it may be. A
    call or visit that really happened early is reported `unscheduled` (issue 17 item 5b): the
    workflow records it, audits it against the contact rules and asks a supervisor to review
    it (it checks the window too)."""
    opens = as_utc(row.not_before)
    if opens is None or opens <= now or unscheduled:
        return
    closes = as_utc(row.not_after)
    raise ApiError(
        409,
        "task_not_open",
        f"Task {row.task_id} may not be worked before {opens.isoformat()}: the contact rules "
        f"allow it only from then (its window is {opens.isoformat()} to "
        f"{closes.isoformat() if closes else 'open-ended'}). A {row.kind} that really happened "
        "before it can be recorded with `unscheduled: true` (audited against the contact rules "
        "and flagged for a supervisor).",
        {
            "not_before": opens.isoformat(),
            "not_after": closes.isoformat() if closes else None,
            "timezone": task_detail(row.detail).timezone,
        },
    )


async def _claim_if_unassigned(url: str, row: TaskRow, user: str, now: datetime) -> bool:
    """Recording on an unassigned task claims it first, atomically, so two people reporting on
    the same task at once cannot both reach the workflow: the loser gets 409 here."""
    if row.assignee is not None:
        return False

    def claim() -> None:
        with session_scope(url) as session:
            queue.claim_task(session, row.task_id, user, now)

    try:
        await asyncio.to_thread(claim)
    except queue.TaskError as exc:
        raise store_error(exc) from exc
    return True


def _release(url: str, task_id: str, user: str, claimed_at: datetime) -> None:
    """Give back a task claimed for an outcome the workflow did not take: nothing recorded."""
    with session_scope(url) as session:
        queue.release_task(session, task_id, user, claimed_at)


async def _deliver(
    client: Client, row: TaskRow, body: OutcomeIn, who: Principal, now: datetime
) -> str:
    """Send the outcome to the account's workflow; the update id makes a re-send count once."""
    handle = client.get_workflow_handle(workflow_id_for(row.loan_id))
    message = TaskOutcome(
        task_id=row.task_id,
        task_kind=row.kind,
        action_seq=row.action_seq,
        recorded_by=who.user,
        recorded_at=now,
        outcome=body,
        by_supervisor=who.role == Role.SUPERVISOR,
    )
    try:
        result: TaskOutcomeResult = await handle.execute_update(
            AccountUpdate.TASK_OUTCOME,
            message,
            id=f"outcome-{row.task_id}",
            result_type=TaskOutcomeResult,
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as exc:
        raise_known_update_failure(exc, UPDATE_ERRORS)
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise _unavailable() from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(
                409,
                "workflow_closed",
                f"The account's workflow is closed; loan {row.loan_id} is no longer in collection.",
            ) from exc
        if exc.status in UNREACHABLE:
            raise _unavailable() from exc
        raise
    return result.effect


def _unavailable() -> ApiError:
    return ApiError(
        503, "service_unavailable", "Temporal did not answer; nothing was recorded, retry."
    )
