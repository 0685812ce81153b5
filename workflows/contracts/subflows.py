"""The subflows (issue 5): the inputs of DebtRestructureWorkflow and WriteOffWorkflow, what they
report to the AccountWorkflow, and what it forwards to them.

The AccountWorkflow starts DebtRestructureWorkflow and WriteOffWorkflow as children with
parent_close_policy ABANDON, so a child outlives the parent's continue-as-new. They talk by
signal through workflow ids (which always reach the current run): the child tells the parent
what happened with `subflow_event`; the parent forwards payments, the borrower's answer and
task outcomes to the child. The parent records every action and task in the store, so the
child needs no store activities of its own (the write-off posting to the loan system aside).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.account import PhoneNumber
from domain.policies import RestructurePolicy, WriteOffPolicy

__all__ = [
    "ChildTaskOutcome",
    "RestructureAnswer",
    "RestructureAnswerResult",
    "RestructureInput",
    "SubflowEvent",
    "SubflowEventKind",
    "SubflowKind",
    "WriteOffInput",
]


SubflowKind = Literal["restructure", "write_off"]
SubflowEventKind = Literal[
    # restructure
    "restructure_offered",  # detail: the offer (RestructureOffer as JSON)
    "restructure_accepted",
    "restructure_declined",
    "restructure_expired",
    "restructure_broken",  # detail: {"instalment": seq, "due_date": ..., "days_late": n}
    "restructure_completed",
    # write-off
    "task_needed",  # detail: {"task_kind": "verification"|"approval", "task_key": str, ...}
    "settlement_offered",  # detail: {"amount": ..., "discount_pct": ..., "expires_on": ...}
    "write_off_not_verified",
    "write_off_rejected",
    "written_off",  # detail: {"amount": ..., "posted_ref": ...}
]


class RestructureInput(BaseModel):
    loan_id: str
    account_workflow_id: str
    episode: str
    currency: str
    timezone: str
    balance: Decimal = Field(description="what is owed now, penalty included")
    penalty_accrued: Decimal
    offered_at: datetime
    policy: RestructurePolicy


class WriteOffInput(BaseModel):
    loan_id: str
    account_workflow_id: str
    episode: str
    currency: str
    timezone: str
    reason: Literal["bankruptcy", "deceased"]
    reported_by: str
    balance: Decimal
    started_at: datetime
    policy: WriteOffPolicy


class SubflowEvent(BaseModel):
    """Child → parent (`subflow_event` signal)."""

    subflow: SubflowKind
    child_id: str
    kind: SubflowEventKind
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)


class RestructureAnswer(BaseModel):
    """Parent → DebtRestructureWorkflow (`answer` signal): the borrower's decision."""

    decision: Literal["accept", "decline"]
    recorded_by: str
    at: datetime
    conversation: bool = Field(
        default=False, description="answered on the phone: starts Regulation F's 7-day pause"
    )
    number: PhoneNumber | None = None


class RestructureAnswerResult(BaseModel):
    """The `restructure_answer` update's answer: the decision as passed to the subflow, and the
    subflow (the offer's child workflow id) it went to."""

    decision: Literal["accept", "decline"]
    offer: str


class ChildTaskOutcome(BaseModel):
    """Parent → WriteOffWorkflow (`task_outcome` signal): the outcome of a task it asked for."""

    task_key: str
    task_id: str
    outcome: str
    recorded_by: str
    at: datetime
    notes: str | None = None
