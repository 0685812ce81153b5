"""The public types of the workflows: inputs, messages, queries and what activities receive.

The API imports these (DESIGN.md: `api → workflows' public types`); they are plain pydantic models
carried by the pydantic data converter. SQLModel tables never appear here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.account import Account, Instalment, PaymentIn, PhoneNumber, PromiseIn
from domain.outcomes import ContactInfo, HardshipIn, OutcomeIn
from domain.policies import RestructurePolicy, WriteOffPolicy
from domain.policy import EpisodePolicy
from workflows.state import EpisodeState

AccountState = Literal[
    "pre_due", "paid_on_time", "delinquent", "cured", "restructured", "written_off", "closed"
]
CLOSED_STATES: frozenset[str] = frozenset({"paid_on_time", "cured", "written_off", "closed"})
"""States in which the episode is over. `restructured` is not one: the account stays open,
paused, while its DebtRestructureWorkflow watches the new plan."""


# Ladder actions that are work for a person: the action kind and the task kind it creates.
TASK_KINDS: dict[str, str] = {
    "call_task": "call",
    "field_visit": "field_visit",
    "skip_trace": "skip_trace",
    "verification_task": "verification",
    "approval_task": "approval",
}


def task_id_for(loan_id: str, episode: str, seq: int) -> str:
    """Stable, so a retried activity, a replay and the workflow itself name the same task."""
    return f"{loan_id}-{episode[:8]}-{seq}"


def workflow_id_for(loan_id: str) -> str:
    """One workflow id per loan: starting it twice finds the open one (CONTRACT.md)."""
    return f"account-{loan_id}"


class AccountWorkflowInput(BaseModel):
    """What starts an episode: the account and the policy it is pinned to, by reference (name,
    version and content hash of its strategy, contact profile and calendars; docs/policy.md), so
    every start and continue-as-new input stays small and an edited file cannot change what a
    running episode decides."""

    account: Account | None = Field(
        default=None,
        description="the account at the start; at continue-as-new it rides in "
        "`carried` (once, not twice)",
    )
    policy: EpisodePolicy
    carried: EpisodeState | None = Field(
        default=None, description="the state handed over by continue-as-new; None at the start"
    )

    @model_validator(mode="after")
    def _account_or_carried(self) -> AccountWorkflowInput:
        if self.account is None and self.carried is None:
            raise ValueError("an episode starts with an account or continues with its state")
        return self


class InstalmentsIn(BaseModel):
    """A changed schedule or a newly issued instalment from the loan system."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"instalments": [{"seq": 9, "due_date": "2027-02-01", "amount": "1200.00"}]}
            ]
        }
    )

    instalments: list[Instalment] = Field(min_length=1)


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


class PromiseView(BaseModel):
    """A promise to pay as the workflow holds it: open, kept or broken, and its deadline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "promise_id": "L-1001-4be1c2d0-P1",
                    "amount": "1200.00",
                    "promised_date": "2026-12-10",
                    "pay_to": None,
                    "status": "open",
                    "made_at": "2026-12-04T03:12:00Z",
                    "deadline": "2026-12-11",
                }
            ]
        }
    )

    promise_id: str
    amount: Decimal
    promised_date: date
    pay_to: str | None = None
    status: str
    made_at: datetime
    deadline: date


class HoldView(BaseModel):
    """A hold pausing collection (dispute, complaint, bankruptcy, ...), since when, until when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "dispute", "since": "2026-12-06T02:00:00Z", "until": None},
            ]
        }
    )

    kind: str
    since: datetime
    until: datetime | None = None


class NextAction(BaseModel):
    """What the workflow will do next, and when."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "sms_reminder", "at": "2026-12-02T02:00:00Z"}]}
    )

    kind: str
    at: datetime


class StrategyRef(BaseModel):
    """The strategy (policy as data) and version an episode is pinned to."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "default", "version": 1}]})

    name: str
    version: int


class AccountStatus(BaseModel):
    """CONTRACT.md AccountStatus, answered by the workflow's query."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loan_id": "L-1001",
                    "state": "delinquent",
                    "dpd": 3,
                    "bucket": "M1",
                    "stage": "front_end",
                    "amount_overdue": "1200.00",
                    "penalty_accrued": "1.80",
                    "promise": None,
                    "broken_promises": 0,
                    "holds": [],
                    "next_action": {"kind": "call_task", "at": "2026-12-04T02:00:00Z"},
                    "strategy": {"name": "default", "version": 1},
                    "currency": "CNY",
                    "paid_total": "0",
                    "balance": "2401.80",
                    "path": ["current", "M1"],
                    "as_of": "2026-12-04T01:00:00Z",
                }
            ]
        }
    )

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
    holder: str | None = Field(default=None, description="the collector who holds the account")
    agency: str | None = Field(default=None, description="the agency the account is placed with")
    agency_period_end: datetime | None = None
    legal_case: str | None = Field(default=None, description="the open legal case")
    policy: list[str] = Field(
        default_factory=list,
        description="what the episode decides with, pinned at its start: strategy, contact "
        "profile and calendar years, each as `kind name@version#hash`",
    )


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
    agency_id: str | None = Field(default=None, description="the agency the loan was placed with")
    placement_id: str | None = None
    commission: Decimal | None = Field(default=None, description="what the payment earns it")


class TaskUpdate(BaseModel):
    """The workflow closing a task it created (expired, or no longer needed)."""

    task_id: str
    status: Literal["expired", "cancelled"]
    at: datetime
    reason: str


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
    "task_id_for",
    "CLOSED_STATES",
    "HoldView",
    "NextAction",
    "TASK_KINDS",
]


# ---------------------------------------------------------------------- channels (issue 6)


class DeliveryTarget(BaseModel):
    """Who a contact goes to, as the compliance gate approved it."""

    name: str
    locale: str
    timezone: str
    phone: str | None = Field(default=None, description="E.164; SMS and voice")
    address: str | None = Field(default=None, description="postal address; letters")


class DeliveryRequest(BaseModel):
    """One outbound contact for the `deliver` activity. (workflow_id, episode, action.seq) is the
    idempotency key: a retried activity must not reach the borrower twice."""

    loan_id: str
    workflow_id: str
    episode: str
    action: ActionCommand
    target: DeliveryTarget
    currency: str
    amount_overdue: Decimal
    balance: Decimal
    dpd: int
    due_date: date | None = None


class DeliveryResult(BaseModel):
    """What the channel did. `status`: sent (provider accepted), failed (provider refused: the
    `error_code` says why, e.g. Twilio 21211 invalid number, 21610 unsubscribed, 21614 cannot
    receive SMS), written (a letter put into the dispatch batch)."""

    seq: int
    kind: str
    channel: str
    status: Literal["sent", "failed", "written"]
    provider_id: str | None = None
    error_code: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


ContactEventKind = Literal[
    "consent_revoked",  # an inbound STOP-type reply, or a collector's change
    "consent_restored",  # START / YES / UNSTOP
    "delivery_failed",  # a status callback said undelivered/failed
    "number_dead",  # the provider says the number is invalid / cannot receive
    "inbound_reply",  # any other reply, attached to the account for the collector
]


class ContactEvent(BaseModel):
    """A fact about the borrower's channels from outside (webhooks, collectors), sent to the
    AccountWorkflow as the `contact_event` signal."""

    kind: ContactEventKind
    channel: Literal["sms", "voice"] = "sms"
    number: str | None = None
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------------- task outcomes (issue 5/6)


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


# ---------------------------------------------------------------------- holds (issue 4)

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


class ReassignRequest(BaseModel):
    """Who holds the account from now on (PLAYBOOK.md section 5, escalation): a supervisor's
    reassignment, or a collector handing the account to their team lead: the `reassign`
    update."""

    to: str = Field(min_length=1, max_length=80)
    by: str
    reason: str = Field(min_length=1, max_length=200)
    kind: Literal["reassignment", "escalation"] = "reassignment"


AgencyContactChannel = Literal["call", "sms", "field_visit", "letter"]
AgencyContactResult = Literal["connected", "unanswered", "sent", "failed", "visited", "not_met"]
# What each channel's contact can have come to (the contact ledger's words).
AGENCY_RESULTS: dict[str, frozenset[str]] = {
    "call": frozenset({"connected", "unanswered", "failed"}),
    "sms": frozenset({"sent", "failed"}),
    "letter": frozenset({"sent", "failed"}),
    "field_visit": frozenset({"visited", "not_met"}),
}


class AgencyContact(BaseModel):
    """One contact an outside agency made with the borrower, as its daily contact file reports
    it (relayed by the bank's systems). It joins the account's contact ledger with actor
    `agency`, so the caps count our collectors and the agencies together (the cn rule: at most
    3 connected calls per borrower per day, all actors)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "HT-20261205-000731",
                    "agency_id": "AG-3f2a91",
                    "at": "2026-12-05T02:15:00Z",
                    "channel": "call",
                    "number": "+8613800138000",
                    "result": "connected",
                }
            ]
        },
    )

    contact_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the agency's id of the contact: the same (agency_id, contact_id) counts once",
    )
    agency_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    at: AwareDatetime = Field(description="when the contact happened (with its UTC offset)")
    channel: AgencyContactChannel
    number: PhoneNumber | None = Field(
        default=None, description="E.164; required for a call or SMS, none for a letter or visit"
    )
    result: AgencyContactResult

    @model_validator(mode="after")
    def _coherent(self) -> AgencyContact:
        allowed = AGENCY_RESULTS[self.channel]
        if self.result not in allowed:
            raise ValueError(
                f"A {self.channel} cannot have result {self.result!r}; use one of "
                f"{', '.join(sorted(allowed))}."
            )
        if self.channel in ("call", "sms") and self.number is None:
            raise ValueError(
                f"A {self.channel} needs the number dialled or texted (E.164): the caps count "
                "attempts per number."
            )
        if self.channel in ("letter", "field_visit") and self.number is not None:
            raise ValueError(f"A {self.channel} goes to an address; leave number empty.")
        return self

    @property
    def key(self) -> str:
        """The idempotency key: an agency's contact ids are its own."""
        return f"{self.agency_id}:{self.contact_id}"


class AgencyContactsRequest(BaseModel):
    """Agencies' contacts for the account: the `agency_contacts` update."""

    contacts: list[AgencyContact] = Field(min_length=1, max_length=500)
    reported_by: str


class ContactInfoRequest(BaseModel):
    """New or dead phones and addresses and consent changes: the `contact_info` update."""

    info: ContactInfo
    recorded_by: str


# ---------------------------------------------------------------------- subflows (issue 5)
#
# The AccountWorkflow starts DebtRestructureWorkflow and WriteOffWorkflow as children with
# parent_close_policy ABANDON, so a child outlives the parent's continue-as-new. They talk by
# signal through workflow ids (which always reach the current run): the child tells the parent
# what happened with `subflow_event`; the parent forwards payments, the borrower's answer and
# task outcomes to the child. The parent records every action and task in the store, so the
# child needs no store activities of its own (the write-off posting to the loan system aside).

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


class ChildTaskOutcome(BaseModel):
    """Parent → WriteOffWorkflow (`task_outcome` signal): the outcome of a task it asked for."""

    task_key: str
    task_id: str
    outcome: str
    recorded_by: str
    at: datetime
    notes: str | None = None


class HardshipRequest(BaseModel):
    """`POST /v1/accounts/{loan_id}/hardship`, as the `hardship` update. `conversation` as in
    `PromiseRequest`: told on the phone, so Regulation F's 7-day pause starts."""

    hardship: HardshipIn
    recorded_by: str
    conversation: bool = False
    number: PhoneNumber | None = None
