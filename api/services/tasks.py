"""Tasks as the API answers them (CONTRACT `Task`) and the work queue's refusals as HTTP errors,
shared by the task routes and the supervisor's assignment (routes/escalation.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from store import tasks as queue
from store.engine import as_utc
from store.models import TaskRow

_STORE_ERRORS: dict[type[queue.TaskError], tuple[int, str]] = {
    queue.UnknownTask: (404, "not_found"),
    queue.TaskHeld: (409, "task_held"),
    queue.TaskBarred: (409, "task_barred"),
    queue.TaskClosed: (409, "task_closed"),
    queue.OutcomeConflict: (409, "outcome_conflict"),
    queue.TaskBusy: (409, "task_busy"),
}


class Task(BaseModel):
    """CONTRACT.md `Task`, plus who claimed it and the outcome once one is recorded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": "L-1001-0f3a9c2e-4",
                    "loan_id": "L-1001",
                    "kind": "call",
                    "status": "open",
                    "assignee": "alice",
                    "not_before": "2026-12-03T02:00:00Z",
                    "not_after": "2026-12-03T03:30:00Z",
                    "detail": {"stage": "front_end", "dpd": 2, "amount_overdue": "1201.20"},
                    "priority": "1201.20",
                    "claimed_at": "2026-12-03T02:05:00Z",
                    "outcome": None,
                }
            ]
        }
    )

    task_id: str
    loan_id: str
    kind: str
    status: str
    assignee: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    priority: Decimal = Field(
        description="overdue amount × stage risk (front_end 1, mid_range 2, hard_core 3, "
        "legal 4): the queue's ranking after promises due today"
    )
    claimed_at: datetime | None = None
    outcome: dict[str, Any] | None = None
    outcome_by: str | None = None
    outcome_at: datetime | None = None
    closed_at: datetime | None = None
    effect: str | None = Field(
        default=None, description="what the account's workflow did with the outcome just posted"
    )

    @classmethod
    def of(cls, row: TaskRow, effect: str | None = None) -> Task:
        return cls(
            task_id=row.task_id,
            loan_id=row.loan_id,
            kind=row.kind,
            status=row.status,
            assignee=row.assignee,
            not_before=as_utc(row.not_before),
            not_after=as_utc(row.not_after),
            detail=row.detail or {},
            priority=queue.priority_score(row).quantize(Decimal("0.01")),
            claimed_at=as_utc(row.claimed_at),
            outcome=row.outcome,
            outcome_by=row.outcome_by,
            outcome_at=as_utc(row.outcome_at),
            closed_at=as_utc(row.closed_at),
            effect=effect,
        )


def store_error(exc: queue.TaskError) -> ApiError:
    status, code = _STORE_ERRORS.get(type(exc), (409, "conflict"))
    return ApiError(status, code, exc.message)
