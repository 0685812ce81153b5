"""What one moment of the AccountWorkflow does to the outside world, carried by the one
`apply_moment` activity: actions, transitions, payments, promises and task updates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from domain.vocabulary import ActionKind
from workflows.contracts.details import ActionDetail, check_kind, tag_detail
from workflows.contracts.status import AccountStatus, PromiseView

__all__ = [
    "ActionCommand",
    "MomentRecord",
    "PaymentRecord",
    "TaskUpdate",
    "TransitionRecord",
]


class ActionCommand(BaseModel):
    """One thing to do now; (episode, seq) is its idempotency key in every side effect.

    `detail` is the model of its `kind` (workflows.contracts.details): its JSON carries no tag,
    the action's own kind tells which model reads it."""

    seq: int
    at: datetime
    kind: ActionKind
    channel: str
    stage: str
    step_id: str | None = None
    template: str | None = None
    status: str = "recorded"  # channel delivery (issue 6) moves it on
    detail: ActionDetail
    task_window: tuple[datetime, datetime] | None = None
    priority: Decimal = Decimal("0")

    @model_validator(mode="before")
    @classmethod
    def _detail_of_its_kind(cls, data: Any) -> Any:
        return tag_detail(data, "action")

    @model_validator(mode="after")
    def _detail_matches_kind(self) -> ActionCommand:
        check_kind(self.kind, self.detail.action, "action")
        return self


class TransitionRecord(BaseModel):
    seq: int
    at: datetime
    from_state: str | None
    to_state: str
    from_bucket: str | None
    to_bucket: str
    dpd: int
    reason: str


class PaymentRecord(BaseModel):
    payment_id: str
    amount: Decimal
    paid_at: datetime
    dpd: int
    bucket: str
    agency_id: str | None = Field(default=None, description="the agency the loan was placed with")
    placement_id: str | None = None
    commission: Decimal | None = Field(default=None, description="what the payment earns it")


class TaskUpdate(BaseModel):
    """The workflow closing a task it created (expired, or no longer needed)."""

    task_id: str
    status: Literal["expired", "cancelled"]
    at: datetime
    reason: str


INVALID_MOMENT = "InvalidMoment"
"""The failure type of an `apply_moment` the store can never hold: not retried; the episode
counts it and goes on (AccountStatus.unrecorded_moments)."""


class MomentRecord(BaseModel):
    """Everything one moment of the workflow does to the outside world, in one activity call."""

    loan_id: str
    workflow_id: str
    episode: str
    at: datetime
    status: AccountStatus
    segment: str
    actions: list[ActionCommand] = Field(default_factory=list)
    transitions: list[TransitionRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    promises: list[PromiseView] = Field(default_factory=list)
    task_updates: list[TaskUpdate] = Field(default_factory=list)
    borrower: dict[str, Any] = Field(default_factory=dict)
