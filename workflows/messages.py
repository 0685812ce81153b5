"""The public types of the workflows: inputs, messages, queries and what activities receive.

The API imports these (DESIGN.md: `api → workflows' public types`); they are plain pydantic models
carried by the pydantic data converter. SQLModel tables never appear here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.account import Account, Instalment, PaymentIn, PromiseIn
from domain.strategy import Strategy
from workflows.state import EpisodeState

AccountState = Literal[
    "pre_due", "paid_on_time", "delinquent", "cured", "restructured", "written_off", "closed"
]
CLOSED_STATES: frozenset[str] = frozenset(
    {"paid_on_time", "cured", "restructured", "written_off", "closed"}
)


# Ladder actions that are work for a person: the action kind and the task kind it creates.
TASK_KINDS: dict[str, str] = {
    "call_task": "call",
    "field_visit": "field_visit",
    "skip_trace": "skip_trace",
}


def workflow_id_for(loan_id: str) -> str:
    """One workflow id per loan: starting it twice finds the open one (CONTRACT.md)."""
    return f"account-{loan_id}"


class AccountWorkflowInput(BaseModel):
    """What starts an episode: the account and the strategy version it is pinned to."""

    account: Account
    strategy: Strategy
    carried: EpisodeState | None = Field(
        default=None, description="the state handed over by continue-as-new; None at the start"
    )


class InstalmentsIn(BaseModel):
    """A changed schedule or a newly issued instalment from the loan system."""

    instalments: list[Instalment] = Field(min_length=1)


class PromiseRequest(BaseModel):
    """A promise as the API forwards it, with who recorded it (for the record and four eyes)."""

    promise: PromiseIn
    recorded_by: str = "collector"
    supervisor_override: bool = False


class PromiseView(BaseModel):
    promise_id: str
    amount: Decimal
    promised_date: date
    pay_to: str | None = None
    status: str
    made_at: datetime
    deadline: date


class HoldView(BaseModel):
    kind: str
    since: datetime
    until: datetime | None = None


class NextAction(BaseModel):
    kind: str
    at: datetime


class StrategyRef(BaseModel):
    name: str
    version: int


class AccountStatus(BaseModel):
    """CONTRACT.md AccountStatus, answered by the workflow's query."""

    loan_id: str
    state: AccountState
    dpd: int
    bucket: str
    stage: str
    amount_overdue: Decimal
    penalty_accrued: Decimal
    promise: PromiseView | None = None
    broken_promises: int = 0
    holds: list[HoldView] = Field(default_factory=list)
    next_action: NextAction | None = None
    strategy: StrategyRef
    currency: str = "CNY"
    paid_total: Decimal = Decimal("0")
    balance: Decimal = Decimal("0")
    path: list[str] = Field(default_factory=list, description="buckets visited, in order")
    as_of: datetime | None = None


class ActionCommand(BaseModel):
    """One thing to do now; (episode, seq) is its idempotency key in every side effect."""

    seq: int
    at: datetime
    kind: str
    channel: str
    stage: str
    step_id: str | None = None
    template: str | None = None
    status: str = "recorded"  # channel delivery (issue 6) moves it on
    detail: dict[str, Any] = Field(default_factory=dict)
    task_window: tuple[datetime, datetime] | None = None
    priority: Decimal = Decimal("0")


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
    borrower: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "AccountWorkflowInput",
    "AccountStatus",
    "ActionCommand",
    "InstalmentsIn",
    "MomentRecord",
    "PaymentIn",
    "PaymentRecord",
    "PromiseRequest",
    "PromiseView",
    "StrategyRef",
    "TransitionRecord",
    "workflow_id_for",
    "CLOSED_STATES",
    "HoldView",
    "NextAction",
    "TASK_KINDS",
]
