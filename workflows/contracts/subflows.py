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

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from domain.account import PhoneNumber
from domain.policies import RestructurePolicy, WriteOffPolicy
from domain.restructure import PlanInstalment
from workflows.contracts.details import (
    ChildTaskFields,
    PostingFields,
    Untagged,
    WriteOffAnswerFields,
    check_kind,
    tag_detail,
)

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
    reason: Literal["bankruptcy", "deceased", "charge_off"]
    reported_by: str
    balance: Decimal
    started_at: datetime
    policy: WriteOffPolicy


class OfferEvent(Untagged):
    """The plan offered (RestructureOffer as JSON, with its instalment count), or accepted
    (with who recorded the answer)."""

    event: Literal["restructure_offered", "restructure_accepted"]
    instalments: list[PlanInstalment] | None = None
    instalment_amount: Decimal | None = None
    waiver: Decimal | None = None
    total: Decimal | None = None
    expires_on: date | None = None
    instalment_count: int | None = None
    recorded_by: str | None = None


class OfferEndedEvent(Untagged):
    """Declined (who recorded it), expired unanswered (its last day), or paid (what was)."""

    event: Literal["restructure_declined", "restructure_expired", "restructure_completed"]
    recorded_by: str | None = None
    expires_on: date | None = None
    paid: Decimal | None = None


class PlanBrokenEvent(Untagged):
    """A plan instalment paid too late."""

    event: Literal["restructure_broken"]
    instalment: int | None = None
    due_date: date | None = None
    days_late: int | None = None
    paid: Decimal | None = None
    owed: Decimal | None = None
    paid_toward_plan: Decimal | None = None


class TaskNeededEvent(ChildTaskFields):
    """The write-off asks a person to verify or approve (the task's detail, as its action's)."""

    event: Literal["task_needed"]
    reason: str | None = None


class SettlementEvent(Untagged):
    """After a death, a settlement offer to the estate's representatives."""

    event: Literal["settlement_offered"]
    amount: Decimal | None = None
    discount_pct: Decimal | None = None
    expires_on: date | None = None
    currency: str | None = None
    balance: Decimal | None = None
    to: str | None = None


class WriteOffAnswerEvent(WriteOffAnswerFields):
    """Not verified or rejected (or their time ran out): why, and the answer if one came."""

    event: Literal["write_off_not_verified", "write_off_rejected"]
    reason: str | None = None
    task_id: str | None = None


class WrittenOffEvent(PostingFields):
    """Verified, approved and posted to the loan system."""

    event: Literal["written_off"]


EventDetail = Annotated[
    OfferEvent
    | OfferEndedEvent
    | PlanBrokenEvent
    | TaskNeededEvent
    | SettlementEvent
    | WriteOffAnswerEvent
    | WrittenOffEvent,
    Field(discriminator="event"),
]
"""What a child says about an event, told apart by the event's kind (its JSON has no tag)."""


class SubflowEvent(BaseModel):
    """Child → parent (`subflow_event` signal)."""

    subflow: SubflowKind
    child_id: str
    kind: SubflowEventKind
    at: datetime
    detail: EventDetail

    @model_validator(mode="before")
    @classmethod
    def _detail_of_its_kind(cls, data: Any) -> Any:
        return tag_detail(data, "event")

    @model_validator(mode="after")
    def _detail_matches_kind(self) -> SubflowEvent:
        check_kind(self.kind, self.detail.event, "event")
        return self


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
