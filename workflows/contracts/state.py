"""The AccountWorkflow's own state: everything continue-as-new must carry, in one model."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
)

from domain.account import Account, PromiseIn
from domain.book import LoanBook
from domain.contact import ContactLedger, Hold
from domain.contact.consolidation import NamedLoan
from domain.promise import Promise
from domain.vocabulary import AccountState


class _Carried(BaseModel):
    """State continue-as-new carries: a field left unsaid (None) or still at its default (an
    empty list, a zero count, a false flag) is not written, so the input stays small as the state
    grows (tests/workflows/test_continue_as_new.py: under 3 KB); every such field reads back as
    its default, so the state reads back the same."""

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        return {
            k: v
            for k, v in data.items()
            if v is not None
            and not (
                k in fields
                and not fields[k].is_required()
                and getattr(self, k) == fields[k].get_default(call_default_factory=True)
            )
        }


def _fired_by_anchor(fired: list[str]) -> dict[str, list[str]]:
    """`ANCHOR|STEP` keys (domain.plan.step_key) grouped by anchor: the anchor date is written
    once, not once per step (an agency-placed episode carried 27 copies of it)."""
    grouped: dict[str, list[str]] = {}
    for key in fired:
        anchor, _, step = key.rpartition("|")
        grouped.setdefault(anchor, []).append(step)
    return grouped


def _fired_keys(grouped: dict[str, list[str]]) -> list[str]:
    """The keys again, sorted as the episode keeps them (a key without an anchor stays bare)."""
    return sorted(
        f"{anchor}|{step}" if anchor else step
        for anchor, steps in grouped.items()
        for step in steps
    )


class OpenTask(_Carried):
    """A task the workflow created for a person and has not yet seen closed."""

    task_id: str
    kind: str
    action_seq: int
    not_before: datetime | None = Field(
        default=None, description="when its window opens (None in runs older than issue 17)"
    )
    not_after: datetime | None = None
    target: str | None = None
    owner: str | None = Field(default=None, description="the child workflow that asked for it")
    task_key: str | None = None
    slot: int | None = None
    party: str = Field(
        default="borrower", description="whom the call is to: `attorney` under an attorney hold"
    )
    loans: list[NamedLoan] = Field(
        default_factory=list,
        description="the borrower's loans a consolidated call task names (docs/borrowers.md)",
    )


class DeferredContact(BaseModel):
    """A ladder contact the compliance gate moved to the earliest instant it allows."""

    step_id: str
    action: str
    due_at: datetime
    blocked_by: str
    detail: dict[str, Any] | None = Field(
        default=None, description="what a deferred offer letter says (it is not a ladder step)"
    )


class SettlementTerms(BaseModel):
    """The settlement offered to a deceased borrower's family (issue 17 item 2): paying `amount`
    by `expires_on` (the borrower's calendar) settles the account; what was paid counts from
    the `payments_from`-th payment on the book (the payments when it was offered)."""

    child: str
    amount: Decimal
    balance: Decimal
    expires_on: date
    payments_from: int


class OpenCase(_Carried):
    """A dispute or complaint case the episode has not yet resolved (issue 17 item 7); the
    store keeps the whole case, evidence included (store/cases.py)."""

    case_id: str
    kind: str = Field(description="dispute | complaint")
    hold_since: datetime = Field(description="the hold it opened with (its `since`)")
    opened_at: datetime
    deadline: datetime
    escalated: bool = Field(default=False, description="escalated at its deadline")


class FilingRequest(BaseModel):
    """A lawsuit filing waiting for the legal team's approval (issue 17 item 4): the approval
    task, the step it would fire, who asked (four eyes: not the approver) and the balance then."""

    task_id: str
    step_id: str
    requested_by: str
    balance: Decimal
    at: datetime


class EpisodeState(_Carried):
    account: Account
    book: LoanBook
    state: AccountState = AccountState.PRE_DUE
    episode: str = ""
    opened_at: datetime | None = None
    anchor: date | None = None
    floor: int = -10
    fired: list[str] = Field(
        default_factory=list,
        description="ladder steps fired, `ANCHOR|STEP`; carried grouped by anchor",
    )
    bucket: str = "current"
    stage: str = "pre_due"
    path: list[str] = Field(default_factory=lambda: ["current"])
    promise: Promise | None = None
    promise_count: int = 0
    broken_dates: list[date] = Field(default_factory=list)
    broken_before: int = Field(
        default=0,
        description="broken promises whose dates were dropped at continue-as-new (outside the "
        "escalation window; workflows/account/compaction.py)",
    )
    reached: bool = False
    action_seq: int = 0
    transition_seq: int = 0
    promise_request_ids: list[str] = Field(default_factory=list)
    runs: int = 1
    open_tasks: list[OpenTask] = Field(default_factory=list)
    done_tasks: list[str] = Field(default_factory=list)
    ledger: ContactLedger | None = None
    holds: list[Hold] = Field(default_factory=list)
    deferred: list[DeferredContact] = Field(default_factory=list)
    # branches (PLAYBOOK.md sections 6-12)
    unanswered_in_row: int = 0
    no_answer_followed_up: list[int] = Field(
        default_factory=list, description="thresholds already acted on in this streak"
    )
    rpc_hours: list[int] = Field(default_factory=list)
    skip_since: datetime | None = None
    skip_done: list[str] = Field(default_factory=list)
    hardships: list[dict[str, str]] = Field(default_factory=list)
    never_assign: list[str] = Field(default_factory=list)
    broken_reasons: dict[str, str] = Field(default_factory=dict)
    child_seq: int = 0
    restructure_child: str | None = None
    restructure_stage: str | None = None
    offer: dict[str, object] | None = None
    offer_payments_from: int | None = Field(
        default=None, description="payments on the book when the open offer was made"
    )
    write_off_child: str | None = None
    settlement: SettlementTerms | None = Field(
        default=None, description="the open settlement offer to a deceased borrower's family"
    )
    charged_off_on: date | None = Field(
        default=None, description="the day the charge-off (write-off by days past due) began"
    )
    # agency and legal lifecycles (issue 5)
    placement: dict[str, str] | None = Field(
        default=None, description="the active agency placement: id, agency, commission, end"
    )
    placed_agencies: list[str] = Field(default_factory=list)
    legal_case: str | None = Field(default=None, description="the open legal case's id")
    filing_request: FilingRequest | None = Field(
        default=None, description="a lawsuit filing waiting for a legal approver"
    )
    suit_filed: bool = Field(
        default=False,
        description="an approved suit was filed: no agency placement from then on",
    )
    holder: str | None = Field(default=None, description="the collector who holds the account")
    promise_plan: list[PromiseIn] = Field(
        default_factory=list, description="the promises of a payment plan still to come"
    )
    agency_contact_keys: list[str] = Field(
        default_factory=list,
        description="(agency_id:contact_id) of agency contacts already in the ledger, newest last",
    )
    agency_hold_notices: list[str] = Field(
        default_factory=list,
        description="holds (kind@since) the placed agency was told to stop for, not yet ended",
    )
    unrecorded_moments: int = Field(
        default=0, description="moments the store could not hold (INVALID_MOMENT)"
    )
    cases: list[OpenCase] = Field(
        default_factory=list, description="open dispute and complaint cases"
    )
    arrived: bool = Field(
        default=False,
        description="a migrated account's arrival on the ladder is recorded (no legal step "
        "fired on it)",
    )

    @property
    def broken_count(self) -> int:
        """Every promise broken in the episode (the dates of the old ones are not kept)."""
        return self.broken_before + len(self.broken_dates)

    @field_serializer("fired")
    def _write_fired(self, fired: list[str]) -> dict[str, list[str]]:
        return _fired_by_anchor(fired)

    @field_validator("fired", mode="before")
    @classmethod
    def _read_fired(cls, value: object) -> object:
        """Grouped by anchor (since issue 14's size fix), or the flat list older runs carried."""
        return _fired_keys(value) if isinstance(value, dict) else value
