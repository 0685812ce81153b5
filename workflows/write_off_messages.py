"""The WriteOffWorkflow's own public types: what it asks the loan-system activity to post, and
what its `status` query answers.

Kept apart from workflows/contracts/  (the protocol shared with the AccountWorkflow) so the
write-off's internals can grow without touching the shared module. Plain pydantic models only:
the activity, the API and the workflow sandbox all import them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from workflows.contracts import ChildTaskOutcome

WriteOffStage = Literal["verifying", "approving", "posting", "done"]
WriteOffResult = Literal["written_off", "not_verified", "rejected", "cancelled"]


class WriteOffPosting(BaseModel):
    """What the loan system is told when a write-off is approved (the `post_write_off` input).

    `workflow_id` (the child's id, unique per write-off attempt of a loan) is the idempotency
    key: a retried activity finds the posting it already made. `at` is the workflow's instant
    of the approval, so the posting carries business time, never a worker's clock.
    """

    loan_id: str
    workflow_id: str
    episode: str
    amount: Decimal
    currency: str
    reason: Literal["bankruptcy", "deceased", "charge_off"]
    verified_by: str
    approved_by: str
    at: datetime


class AskedTask(BaseModel):
    """A task the child asked the parent to create (`task_needed`), reminders included."""

    task_kind: Literal["verification", "approval"]
    task_key: str
    at: datetime
    reminder_of: str | None = Field(default=None, description="the first task's key")


class SettlementOffer(BaseModel):
    """The related-party settlement recorded for a deceased borrower's family."""

    amount: Decimal
    discount_pct: Decimal
    expires_on: date


class WriteOffStatus(BaseModel):
    """The `status` query: where the write-off stands and what people have answered."""

    loan_id: str
    child_id: str
    reason: Literal["bankruptcy", "deceased", "charge_off"]
    balance: Decimal
    currency: str
    stage: WriteOffStage
    tasks: list[AskedTask]
    outcomes: list[ChildTaskOutcome]
    ignored: list[str] = Field(
        default_factory=list, description="outcomes that did not count, and why"
    )
    settlement: SettlementOffer | None = None
    verified_by: str | None = None
    approved_by: str | None = None
    posted_ref: str | None = None
    result: WriteOffResult | None = None
