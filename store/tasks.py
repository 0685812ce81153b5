"""The collectors' work queue: which tasks a person should work now, in what order, and the two
writes people make to it (claim, outcome) — atomic on SQLite and PostgreSQL alike.

Ranking (best first), computed in SQL so `LIMIT` and `FOR UPDATE SKIP LOCKED` see the same order:

1. promises due today: a task whose account has an open promise (the `promises` table) falling
   due today on the borrower's local calendar (the zone the task was created in,
   `detail["timezone"]`; the queue's business date for a task that has none), or whose
   `detail["promise_due"]` says so. Judged when the queue is read, not frozen into the task: a
   call task created last week jumps the queue on the day its account's promise falls due. A
   broken promise is the playbook's strongest signal (PLAYBOOK.md section 7), so these come
   before anything else;
2. priority score = overdue amount (`tasks.priority`) × stage risk (`STAGE_RISK`): the same money
   is harder to recover the further the account has slid, so later stages get worked first;
3. the window closing soonest (a task nobody works before `not_after` expires);
4. task id, so the order is total and two collectors see the same list.

Concurrency: a claim never hands one task to two people.

- PostgreSQL: `claim_task` locks the row (`SELECT ... FOR UPDATE`, bounded by `lock_timeout`)
  and decides on the locked row, so the loser of a race waits a few milliseconds and then sees
  the winner's name (an exact 409, and re-claiming your own task stays idempotent even when two
  requests of yours race). `claim_next` uses `FOR UPDATE SKIP LOCKED`: concurrent callers each
  take a different row instead of queueing behind the best one.
- SQLite has no row locks but serialises writers: a claim is a single conditional `UPDATE ...
  WHERE status='open' AND (assignee IS NULL OR assignee=:user)`; its rowcount says who won.
  `claim_next` is one `UPDATE ... WHERE task_id = (SELECT best ...) RETURNING task_id`, whose
  subquery runs under the write lock, so it always sees the latest claims.

Instants are compared in UTC (SQLite stores wall-clock components without an offset).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, select

from domain.calendar import local_date
from store.models import PromiseRow, TaskRow
from store.task_detail import detail_key, task_detail

OPEN = "open"
DONE = "done"
TASK_STATUSES: tuple[str, ...] = (OPEN, DONE, "expired", "cancelled")
"""open → done when a person records an outcome; expired / cancelled when the workflow closes it."""

TASK_KINDS: tuple[str, ...] = ("call", "field_visit", "skip_trace", "verification", "approval")

STAGE_RISK: Mapping[str, int] = {"front_end": 1, "mid_range": 2, "hard_core": 3, "legal": 4}
"""How much harder a unit of overdue money is to recover in each stage (PLAYBOOK.md section 2);
a stage not listed (pre_due, unknown) weighs 1."""

PROMISE_DUE_KEY = detail_key("promise_due")
"""The detail key (ISO date) the workflow sets on a task about a promise falling due that day."""

TIMEZONE_KEY = detail_key("timezone")
"""The detail key of the borrower's IANA zone (set when the task is recorded): "today" for the
account's promises is the borrower's calendar day, not the queue's."""

STAGE_KEY = detail_key("stage")
APPROVES_KEY = detail_key("approves")
"""The detail key of the account's stage when the task was created (the ranking's risk)."""

LOCK_TIMEOUT = "3s"
"""PostgreSQL: the longest a claim waits for another transaction's row lock before answering
"busy"; every writer of this table holds its lock for one short transaction."""

_tasks = SQLModel.metadata.tables[TaskRow.__tablename__]

CLAIM_NEXT_LOOKAHEAD = 20
"""How many of the best unassigned tasks `claim_next` considers, so work barred to the caller
(a grievance) does not hide the next task they may take."""


class TaskError(Exception):
    """A queue operation refused for a business reason; `message` is safe to show the caller."""

    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.message = message


class UnknownTask(TaskError):
    """No task has this id (the API answers 404)."""


class TaskConflict(TaskError):
    """The task's state forbids the operation (the API answers 409)."""


class TaskHeld(TaskConflict):
    """Someone else holds the task."""

    def __init__(self, task_id: str, assignee: str) -> None:
        super().__init__(task_id, f"Task {task_id} is already held by {assignee}.")
        self.assignee = assignee


class TaskBarred(TaskConflict):
    """The borrower complained about this collector (collector grievance, PLAYBOOK.md section
    10): the account's work never goes back to them."""

    def __init__(self, task_id: str, user: str) -> None:
        super().__init__(
            task_id,
            f"Task {task_id} may not go to {user}: the borrower complained about them; "
            "it must be worked by someone else.",
        )


def barred(row: TaskRow, user: str) -> bool:
    """The workflow lists, on every task of an account with a grievance, who may not hold it."""
    return user in (task_detail(row.detail).never_to or ())


class TaskClosed(TaskConflict):
    """The task is no longer open (done, expired or cancelled)."""


class OutcomeConflict(TaskConflict):
    """A different outcome was already recorded for the task."""


class TaskBusy(TaskConflict):
    """Another transaction held the task's row lock for longer than `LOCK_TIMEOUT`."""


def stage_risk(stage: str | None) -> int:
    return STAGE_RISK.get(stage or "", 1)


def priority_score(row: TaskRow) -> Decimal:
    """The ranking's money term for one row, as the API shows it (same formula as `_score`)."""
    return Decimal(row.priority or 0) * stage_risk(task_detail(row.detail).stage)


def _utc(at: datetime) -> datetime:
    """SQLite's DateTime stores wall-clock fields without the offset: always bind UTC."""
    if at.tzinfo is None:
        raise ValueError("business instants must be timezone-aware")
    return at.astimezone(UTC)


def _score() -> ColumnElement[Any]:
    stage = _tasks.c.detail[STAGE_KEY].as_string()
    return _tasks.c.priority * case(dict(STAGE_RISK), value=stage, else_=1)


def _promise_due_on(day: date) -> ColumnElement[bool]:
    """The task's account has an open promise falling due on `day`."""
    return exists(
        select(PromiseRow.promise_id).where(
            PromiseRow.loan_id == _tasks.c.loan_id,
            PromiseRow.status == "open",
            PromiseRow.promised_date == day,
        )
    )


def _open_zones(session: Session) -> list[str]:
    """The borrowers' zones among open tasks: a handful, each with its own "today"."""
    zone = _tasks.c.detail[TIMEZONE_KEY].as_string()
    found = session.exec(select(zone).where(_tasks.c.status == OPEN).distinct()).all()
    return sorted(str(z) for z in found if z)


def _local_days(now: datetime, zones: Collection[str]) -> list[tuple[str, date]]:
    """Each zone's calendar day at `now`; a zone the calendar does not know is left out (its
    tasks rank on the rest of the key rather than break the queue)."""
    days = []
    for name in zones:
        try:
            days.append((name, local_date(now, name)))
        except (KeyError, ValueError):
            continue
    return days


def _promise_today_first(now: datetime, today: date, zones: Collection[str]) -> ColumnElement[Any]:
    due = _tasks.c.detail[PROMISE_DUE_KEY].as_string()
    zone = _tasks.c.detail[TIMEZONE_KEY].as_string()
    due_today = [
        due == today.isoformat(),
        and_(zone.is_(None), _promise_due_on(today)),
        *(and_(zone == z, _promise_due_on(day)) for z, day in _local_days(now, zones)),
    ]
    return case((or_(*due_today), 0), else_=1)


def _ranking(session: Session, now: datetime, today: date) -> list[ColumnElement[Any]]:
    return [
        _promise_today_first(now, today, _open_zones(session)).asc(),
        _score().desc(),
        _tasks.c.not_after.asc().nulls_last(),
        _tasks.c.task_id.asc(),
    ]


def _window_open(now: datetime, include_future: bool = False) -> ColumnElement[bool]:
    """`not_before <= now < not_after`, a NULL bound being open. `include_future` drops only the
    lower bound: work planned for later today is visible, work whose window passed never is."""
    closes_later = or_(_tasks.c.not_after.is_(None), _tasks.c.not_after > now)
    if include_future:
        return closes_later
    opened = or_(_tasks.c.not_before.is_(None), _tasks.c.not_before <= now)
    return and_(opened, closes_later)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _reload(session: Session, task_id: str) -> TaskRow | None:
    """The row as committed/written now (a Core UPDATE bypasses the identity map)."""
    return session.exec(
        select(TaskRow).where(_tasks.c.task_id == task_id).execution_options(populate_existing=True)
    ).first()


def open_tasks(
    session: Session,
    now: datetime,
    *,
    kind: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    viewer: str | None = None,
    include_future: bool = False,
    limit: int = 100,
    today: date | None = None,
    exclude_kinds: Collection[str] = (),
    approves: str | None = None,
) -> list[TaskRow]:
    """The queue, best first.

    `status` defaults to open; only open work is filtered by its window (a closed task's window
    no longer matters). `viewer` is a collector: they see tasks assigned to them or to nobody.
    `assignee` narrows to one person's tasks. A promise is judged on the borrower's calendar at
    `now`; `today` is the business date for tasks that do not say their zone, and for
    `detail["promise_due"]` (default: the UTC date of `now`). `approves` narrows to the
    approvals that decide it (`lawsuit_filing`: the legal team's).
    """
    now = _utc(now)
    status = status or OPEN
    query = select(TaskRow).where(_tasks.c.status == status)
    if status == OPEN:
        query = query.where(_window_open(now, include_future))
    if kind is not None:
        query = query.where(_tasks.c.kind == kind)
    if exclude_kinds:
        query = query.where(_tasks.c.kind.not_in(list(exclude_kinds)))
    if approves is not None:
        query = query.where(_tasks.c.detail[APPROVES_KEY].as_string() == approves)
    if assignee is not None:
        query = query.where(_tasks.c.assignee == assignee)
    if viewer is not None:
        query = query.where(or_(_tasks.c.assignee.is_(None), _tasks.c.assignee == viewer))
    ranking = _ranking(session, now, today or now.date())
    query = query.order_by(*ranking).limit(max(1, min(limit, 1000)))
    return list(session.exec(query).all())


def get_task(session: Session, task_id: str) -> TaskRow:
    row = _reload(session, task_id)
    if row is None:
        raise UnknownTask(task_id, f"No task {task_id} is known.")
    return row


def _refuse_claim(task_id: str, row: TaskRow | None, user: str) -> None:
    """Why `user` cannot hold this task; returns when they already do."""
    if row is None:
        raise UnknownTask(task_id, f"No task {task_id} is known.")
    if row.status != OPEN:
        raise TaskClosed(task_id, f"Task {task_id} is {row.status}; it cannot be claimed.")
    if barred(row, user):
        raise TaskBarred(task_id, user)
    if row.assignee is not None and row.assignee != user:
        raise TaskHeld(task_id, row.assignee)


def claim_task(session: Session, task_id: str, user: str, now: datetime) -> TaskRow:
    """Give an open task to `user`, atomically. Claiming a task you already hold changes nothing.

    Raises UnknownTask, TaskClosed, TaskHeld (someone else has it) or TaskBusy (PostgreSQL: the
    row stayed locked longer than LOCK_TIMEOUT).
    """
    now = _utc(now)
    if _is_postgres(session):
        connection = session.connection()
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            row = session.exec(
                select(TaskRow)
                .where(_tasks.c.task_id == task_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise TaskBusy(
                    task_id, f"Task {task_id} is being changed by someone else; retry."
                ) from exc
            raise
        _refuse_claim(task_id, row, user)
        assert row is not None
        if row.assignee != user or row.claimed_at is None:
            row.assignee, row.claimed_at = user, now
            session.add(row)
            session.flush()
        return row
    found = _reload(session, task_id)
    if found is not None and barred(found, user):  # never_to is fixed when the task is made
        raise TaskBarred(task_id, user)
    already_mine = and_(_tasks.c.assignee == user, _tasks.c.claimed_at.is_not(None))
    result = session.connection().execute(
        update(_tasks)
        .where(
            _tasks.c.task_id == task_id,
            _tasks.c.status == OPEN,
            or_(_tasks.c.assignee.is_(None), _tasks.c.assignee == user),
        )
        .values(
            assignee=user,
            claimed_at=case((already_mine, _tasks.c.claimed_at), else_=now),
        )
    )
    row = _reload(session, task_id)
    if result.rowcount != 1:
        _refuse_claim(task_id, row, user)
    assert row is not None
    return row


def claim_next(
    session: Session,
    user: str,
    now: datetime,
    kind: str | None = None,
    *,
    today: date | None = None,
    exclude_kinds: Collection[str] = (),
    approves: str | None = None,
    exclude_approves: str | None = None,
) -> TaskRow | None:
    """Claim the best unassigned open task for `user` (None when the queue is empty).

    Only unassigned work is taken: what a collector already holds is in their list, and
    "next" means new work. Two callers at once always get different tasks.
    """
    now = _utc(now)
    conditions: list[ColumnElement[bool]] = [
        _tasks.c.status == OPEN,
        _tasks.c.assignee.is_(None),
        _window_open(now),
    ]
    if kind is not None:
        conditions.append(_tasks.c.kind == kind)
    if exclude_kinds:
        conditions.append(_tasks.c.kind.not_in(list(exclude_kinds)))
    if approves is not None:
        conditions.append(_tasks.c.detail[APPROVES_KEY].as_string() == approves)
    if exclude_approves is not None:
        decides = func.coalesce(_tasks.c.detail[APPROVES_KEY].as_string(), "")
        conditions.append(decides != exclude_approves)
    ranking = _ranking(session, now, today or now.date())
    candidates = session.exec(
        select(TaskRow).where(*conditions).order_by(*ranking).limit(CLAIM_NEXT_LOOKAHEAD)
    ).all()
    if _is_postgres(session):
        # Lock one candidate at a time, best first: a row another claimer holds is skipped, so
        # two claimers at once take the two best tasks (locking all candidates at once would
        # hand the second claimer only what lies beyond the first one's lookahead).
        for candidate in candidates:
            if barred(candidate, user):
                continue
            row = session.exec(
                select(TaskRow)
                .where(_tasks.c.task_id == candidate.task_id, *conditions)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).first()
            if row is None:
                continue
            row.assignee, row.claimed_at = user, now
            session.add(row)
            session.flush()
            return row
        return None
    # SQLite: a conditional update per candidate; a candidate another claimer took in between
    # no longer matches, and the next one is tried.
    for candidate in candidates:
        if barred(candidate, user):
            continue
        claimed = (
            session.connection()
            .execute(
                update(_tasks)
                .where(
                    _tasks.c.task_id == candidate.task_id,
                    _tasks.c.status == OPEN,
                    _tasks.c.assignee.is_(None),
                )
                .values(assignee=user, claimed_at=now)
                .returning(_tasks.c.task_id)
            )
            .scalar_one_or_none()
        )
        if claimed is not None:
            return _reload(session, claimed)
    return None


def assign_task(session: Session, task_id: str, assignee: str, now: datetime) -> TaskRow:
    """A supervisor gives an open task to someone (section 5, escalation): it is theirs,
    claimed at `now`. Refused for a closed task and for a collector the borrower complained
    about."""
    row = _reload(session, task_id)
    if row is None:
        raise UnknownTask(task_id, f"No task {task_id} is known.")
    if row.status != OPEN:
        raise TaskClosed(task_id, f"Task {task_id} is {row.status}; it cannot be reassigned.")
    if barred(row, assignee):
        raise TaskBarred(task_id, assignee)
    result = session.connection().execute(
        update(_tasks)
        .where(_tasks.c.task_id == task_id, _tasks.c.status == OPEN)
        .values(assignee=assignee, claimed_at=_utc(now))
    )
    if result.rowcount != 1:  # closed in between
        raise TaskClosed(task_id, f"Task {task_id} closed before it could be reassigned.")
    reloaded = _reload(session, task_id)
    assert reloaded is not None
    return reloaded


def release_task(session: Session, task_id: str, user: str, claimed_at: datetime) -> bool:
    """Undo a claim made at `claimed_at` by `user` if nothing happened to the task since (the API
    claims before delivering an outcome and gives the task back when delivery fails)."""
    result = session.connection().execute(
        update(_tasks)
        .where(
            _tasks.c.task_id == task_id,
            _tasks.c.status == OPEN,
            _tasks.c.assignee == user,
            _tasks.c.claimed_at == _utc(claimed_at),
        )
        .values(assignee=None, claimed_at=None)
    )
    return result.rowcount == 1


def outcome_payload(outcome: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The outcome as stored and compared: JSON-ready, without empty fields."""
    if isinstance(outcome, BaseModel):
        return outcome.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in dict(outcome).items() if v is not None}


def record_outcome(
    session: Session,
    task_id: str,
    outcome: BaseModel | Mapping[str, Any],
    user: str,
    now: datetime,
) -> TaskRow:
    """Close an open task with a person's outcome; idempotent by task id.

    The same outcome again returns the task unchanged (a retried request); a different outcome
    for a task already done raises OutcomeConflict; an expired or cancelled task raises
    TaskClosed. One conditional UPDATE, so two recorders at once cannot both win.
    """
    now = _utc(now)
    payload = outcome_payload(outcome)
    result = session.connection().execute(
        update(_tasks)
        .where(_tasks.c.task_id == task_id, _tasks.c.status == OPEN)
        .values(
            status=DONE,
            outcome=payload,
            outcome_by=user,
            outcome_at=now,
            closed_at=now,
            assignee=func.coalesce(_tasks.c.assignee, user),
            claimed_at=func.coalesce(_tasks.c.claimed_at, now),
        )
    )
    row = _reload(session, task_id)
    if result.rowcount == 1:
        assert row is not None
        return row
    if row is None:
        raise UnknownTask(task_id, f"No task {task_id} is known.")
    if row.status == DONE and row.outcome == payload:
        return row
    if row.status == DONE:
        recorded = (row.outcome or {}).get("outcome")
        raise OutcomeConflict(
            task_id,
            f"Task {task_id} already has the outcome {recorded!r}, recorded by {row.outcome_by}.",
        )
    raise TaskClosed(task_id, f"Task {task_id} is {row.status}; it takes no outcome.")


__all__ = [
    "DONE",
    "OPEN",
    "PROMISE_DUE_KEY",
    "STAGE_RISK",
    "TASK_KINDS",
    "TASK_STATUSES",
    "OutcomeConflict",
    "TaskBusy",
    "TaskClosed",
    "TaskConflict",
    "TaskError",
    "TaskHeld",
    "UnknownTask",
    "claim_next",
    "claim_task",
    "get_task",
    "open_tasks",
    "outcome_payload",
    "priority_score",
    "record_outcome",
    "release_task",
    "stage_risk",
]
