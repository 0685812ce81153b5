"""The AccountWorkflow's updates: each request (payload) beside the result it answers
(`workflows.contracts.names.AccountUpdate` names them). Agencies' contacts are in `agencies`,
the restructure answer in `subflows`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.account import PhoneNumber, PromiseIn
from domain.outcomes import ContactInfo, HardshipIn, OutcomeIn

__all__ = [
    "AgencyRecallRequest",
    "AgencyRecallResult",
    "ContactInfoRequest",
    "ContactInfoResult",
    "HardshipRequest",
    "HardshipResult",
    "HoldKindIn",
    "HoldRelease",
    "HoldRequest",
    "PaymentBooked",
    "PromiseRequest",
    "ReassignRequest",
    "ReassignResult",
    "TaskOutcome",
    "TaskOutcomeResult",
]


class PaymentBooked(BaseModel):
    """The answer to a payment (`AccountUpdate.PAYMENT`, payload `PaymentIn`): whether this
    report booked it, or repeated one already booked with the same amount (idempotent). The
    validator refuses the same payment_id with another amount before it enters history."""

    booked: bool = Field(description="False: a repeat of a payment already booked")


class PromiseRequest(BaseModel):
    """A promise as the API forwards it, with who recorded it (for the record and four eyes).

    `conversation`: the promise was made in a telephone conversation with the borrower (an
    inbound call, or a call outside a task): the ledger records a right-party conversation at
    that instant, so Regulation F's 7-day pause starts from it. `number`: the number it was on
    (default: the borrower's first live number)."""

    promise: PromiseIn
    recorded_by: str = "collector"
    supervisor_override: bool = False
    conversation: bool = False
    number: PhoneNumber | None = None


class HardshipRequest(BaseModel):
    """`POST /v1/accounts/{loan_id}/hardship`, as the `hardship` update. `conversation` as in
    `PromiseRequest`: told on the phone, so Regulation F's 7-day pause starts."""

    hardship: HardshipIn
    recorded_by: str
    conversation: bool = False
    number: PhoneNumber | None = None


class HardshipResult(BaseModel):
    """What the `hardship` update did (section 9): a payment plan, a grace hold, a restructure
    offer, or the hardship on record only."""

    effect: str


class TaskOutcome(BaseModel):
    """A task's outcome as the API delivers it to the AccountWorkflow (update `task_outcome`,
    update id = task id, so a retried delivery counts once)."""

    task_id: str
    task_kind: str
    action_seq: int | None = None
    recorded_by: str
    recorded_at: datetime
    outcome: OutcomeIn
    by_supervisor: bool = Field(
        default=False,
        description="a supervisor recorded it: a promise after too many broken ones is allowed",
    )


class TaskOutcomeResult(BaseModel):
    """What the `task_outcome` update did with the outcome. `outcome` is None when the task's
    outcome was counted before (`effect` then says so)."""

    task_id: str
    outcome: str | None = None
    effect: str


HoldKindIn = Literal[
    "dispute", "complaint", "bankruptcy", "deceased", "cease_communication", "attorney"
]


class HoldRequest(BaseModel):
    """A hold reported through the API (`/disputes`, `/complaints`, `/bankruptcy`, `/deceased`,
    `/cease-communication`, `/attorney`), sent to the workflow as the `add_hold` update."""

    kind: HoldKindIn
    reason: str | None = None
    notes: str | None = None
    reported_by: str
    attorney_phone: str | None = None


class HoldRelease(BaseModel):
    """The end of a hold that has no end date of its own (a dispute resolved, a complaint
    closed, a cease request withdrawn): the `release_hold` update."""

    kind: HoldKindIn
    released_by: str
    notes: str | None = None


class AgencyRecallRequest(BaseModel):
    """A supervisor taking the account back from its agency before the period ends: the
    `recall_agency` update. It is then re-placed with another agency, or sent to legal."""

    reason: str = Field(min_length=1, max_length=200, examples=["agency not working the account"])
    requested_by: str


class AgencyRecallResult(BaseModel):
    """The placement the `recall_agency` update ended."""

    recalled_from: str = Field(description="the agency's id")
    placement_id: str


class ReassignRequest(BaseModel):
    """Who holds the account from now on (PLAYBOOK.md section 5, escalation): a supervisor's
    reassignment, or a collector handing the account to their team lead: the `reassign`
    update."""

    to: str = Field(min_length=1, max_length=80)
    by: str
    reason: str = Field(min_length=1, max_length=200)
    kind: Literal["reassignment", "escalation"] = "reassignment"


class ReassignResult(BaseModel):
    """Who holds the account after the `reassign` update, and how it got there."""

    holder: str
    kind: Literal["reassignment", "escalation"]


class ContactInfoRequest(BaseModel):
    """New or dead phones and addresses and consent changes: the `contact_info` update."""

    info: ContactInfo
    recorded_by: str


class ContactInfoResult(BaseModel):
    """What the `contact_info` update changed: numbers added to the rotation, numbers dropped
    as dead, and the consents as given."""

    phones_added: int
    dead_numbers: int
    consents: dict[Literal["sms", "voice"], bool] = Field(default_factory=dict)
