"""Typed action details: what each kind of action says about itself, one model per action kind,
as the AccountWorkflow writes it (`ActionCommand.detail`), the activities read it, the store keeps
it (`actions.detail`, a JSON column) and the timeline explains it.

`ActionDetail` is a discriminated union over the action kind. The tag (`action`) is the kind
itself, so it is never written into the JSON: `ActionCommand` puts its own `kind` in before the
detail is read, and `read_detail(kind, json)` does the same for a row the store hands back. The
JSON keys are the ones the store and the API have always shown (`GET /v1/accounts/{id}/actions`
answers `detail` as stored), and a detail leaves out what it does not say (None): the store never
kept nulls. Every field is optional, with None for "not said", so an older row or a committed
history without a field still reads; a field no model of that kind knows, a value of the wrong
type, or a kind that has no model is refused with pydantic's message naming it.

Besides what the workflow writes, every detail may carry what the store adds when it records and
delivers the action (`step_id`, `template`, `task_id`, `provider_id`, `error_code`, `delivery`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)

from domain.contact.consolidation import NamedLoan
from domain.vocabulary import ActionKind, TaskKind


class Untagged(BaseModel):
    """A detail told apart by the kind of what carries it (an action's, an event's): the tag
    field is never written, nor is anything unsaid (None); a field it does not know is refused."""

    model_config = ConfigDict(
        extra="forbid", serialize_by_alias=True, validate_by_name=True, validate_by_alias=True
    )

    @model_serializer(mode="wrap")
    def _as_stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The JSON the store keeps: no tag (the kind is the carrier's own), nothing unsaid."""
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None and k not in TAGS}

    def stored(self) -> dict[str, Any]:
        """The JSON the store keeps (and the API shows), for readers that explain any kind
        alike (the timeline's generic inputs); readers of one kind use its fields."""
        return self.model_dump(mode="json")


TAGS = frozenset({"action", "event"})
"""The tag fields of the unions of Untagged models: an action's kind, an event's kind."""


def tag_detail(data: Any, tag: str) -> Any:
    """A carrier's JSON (a history, a test's dict) with its `detail` tagged by the carrier's
    `kind`, so the union picks the kind's model; a detail given as a model is left as it is."""
    if isinstance(data, dict) and not isinstance(data.get("detail"), Untagged):
        detail = data.get("detail") or {}
        if isinstance(detail, dict):
            return {**data, "detail": {**detail, tag: data.get("kind")}}
    return data


def check_kind(kind: str, detail_kind: str, carrier: str) -> None:
    """A carrier of one kind never carries the detail of another."""
    if detail_kind != kind:
        raise ValueError(f"a {kind} {carrier} cannot carry a {detail_kind} detail")


class DetailBase(Untagged):
    """What every action may say: why (`reason`), and what the store adds to its row."""

    reason: str | None = None
    # Added by the store: the ladder step and template the action came from (kept on the
    # ActionCommand itself), the task it created, and what its channel answered.
    step_id: str | None = None
    template: str | None = None
    task_id: str | None = None
    provider_id: str | None = None
    error_code: int | None = None
    delivery: dict[str, Any] | None = Field(
        default=None, description="the channel's own account of the delivery (DeliveryResult)"
    )


# ---------------------------------------------------------------------- ladder and branch steps


class StepDetail(DetailBase):
    """A step of the strategy (the ladder's or a branch's), as `Episode.queue_action` writes it:
    where the account stood, whom it goes to, and what the compliance gate required of it."""

    dpd: int | None = None
    bucket: str | None = None
    amount_overdue: Decimal | None = None
    currency: str | None = None
    task_kind: TaskKind | None = Field(default=None, description="work for a person: its kind")
    to: str | None = Field(default=None, description="the number dialled or texted (E.164)")
    never_to: list[str] | None = Field(
        default=None, description="collectors the borrower complained about (section 10)"
    )
    party: str | None = Field(default=None, description="when not the borrower")
    purpose: str | None = None
    represented: str | None = Field(default=None, description="the borrower has an attorney")
    rescheduled_by: str | None = Field(
        default=None, description="the rule that first moved this contact to a later instant"
    )
    contact_relation: str | None = None
    # what the contact profile requires of the contact (domain.contact.decide)
    opt_out_text: str | None = None
    agents: int | None = None
    mention_debt: bool | None = None
    loans: list[NamedLoan] | None = Field(
        default=None,
        description="every overdue loan of the borrower this message or call task names, when "
        "several (docs/borrowers.md: consolidation)",
    )


class ReminderDetail(StepDetail):
    action: Literal[ActionKind.SMS_REMINDER, ActionKind.VOICE_REMINDER]
    amount_due: Decimal | None = Field(
        default=None, description="the instalment falling due (pre-due), when the step names it"
    )


class LetterDetail(StepDetail):
    action: Literal[ActionKind.LETTER, ActionKind.LAWYER_LETTER]
    law_firm: str | None = None


class CallTaskDetail(StepDetail):
    action: Literal[ActionKind.CALL_TASK]
    promise_due: date | None = Field(default=None, description="a promise due that day")
    broken_promise: str | None = Field(
        default=None, description="the broken promise this call follows up (section 7)"
    )


class FieldVisitDetail(StepDetail):
    action: Literal[ActionKind.FIELD_VISIT]


class SkipTraceDetail(StepDetail):
    action: Literal[ActionKind.SKIP_TRACE]
    sources: list[str] | None = None


class PlacementDetail(StepDetail):
    action: Literal[ActionKind.OCA_PLACEMENT]
    exclude_agencies: list[str] | None = Field(
        default=None, description="agencies already tried: a secondary placement"
    )
    placement_days: int | None = Field(
        default=None, ge=1, description="the placement period (default: the agency's 90 days)"
    )
    selection: str | None = Field(default=None, description="how the agency is chosen")


class RecallDetail(StepDetail):
    action: Literal[ActionKind.OCA_RECALL]
    recall_reason: str | None = None
    placement_id: str | None = None
    agency_id: str | None = None


class LegalDetail(StepDetail):
    action: Literal[ActionKind.ASSET_PRESERVATION, ActionKind.LAWSUIT]
    case_id: str | None = Field(default=None, description="the case a closure step ends")
    law_firm: str | None = None


# ---------------------------------------------------------------------- the gate and the channels


class ContactBlockedDetail(DetailBase):
    """A contact the compliance gate refused or moved (`gate.refuse`)."""

    action: Literal[ActionKind.CONTACT_BLOCKED]
    rule: str | None = None
    blocked_action: str | None = None
    step_id_blocked: str | None = None
    profile: str | None = None
    rescheduled_to: str | None = Field(default=None, description="ISO instant; None: dropped")
    strategy: str | None = None
    dpd: int | None = None
    bucket: str | None = None
    amount_overdue: Decimal | None = None
    currency: str | None = None


class DeliveryFailureDetail(DetailBase):
    """What a failed delivery taught the episode (`deliveries.learn_failure`)."""

    action: Literal[ActionKind.DELIVERY_FAILURE]
    to: str | None = None
    failed_channel: str | None = None
    verdict: str | None = None
    rule: str | None = None
    undelivered_in_a_row: int | None = None
    source: str | None = None
    # a provider's refusal names the action it failed; a status callback its provider id
    failed_seq: int | None = None
    failed_kind: str | None = None
    action_seq: int | None = None
    episode: str | None = None


# ---------------------------------------------------------------------- decisions of the episode


class ReassignmentDetail(DetailBase):
    """Who holds the account now (section 5), or whom the borrower complained about (10)."""

    action: Literal[ActionKind.REASSIGNMENT]
    kind: Literal["reassignment", "escalation"] | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    by: str | None = None
    never_to: list[str] | None = None


class HoldDetail(DetailBase):
    """A hold placed or released (`Episode.record_hold`)."""

    action: Literal[ActionKind.HOLD_PLACED, ActionKind.HOLD_RELEASED]
    hold: str | None = None
    since: str | None = None
    until: str | None = None
    reported_by: str | None = None
    released_by: str | None = None
    notes: str | None = None
    attorney_phone: str | None = None
    cause: str | None = None


class AgencyNoticeDetail(DetailBase):
    """The placed agency told to stop for a hold, or that the hold has ended."""

    action: Literal[ActionKind.OCA_HOLD_NOTICE, ActionKind.OCA_RESUME_NOTICE]
    hold: str | None = None
    hold_since: str | None = None
    hold_until: str | None = None
    placement_id: str | None = None
    agency_id: str | None = None
    agency: str | None = None
    still_on_hold: list[str] | None = None
    may_resume: bool | None = None


class AgencyContactsDetail(DetailBase):
    """Agencies' contacts that joined the contact ledger."""

    action: Literal[ActionKind.AGENCY_CONTACTS]
    recorded: int | None = None
    duplicates: int | None = None
    agency_ids: list[str] | None = None
    contact_ids: list[str] | None = None
    by_result: dict[str, int] | None = None
    first_at: str | None = None
    last_at: str | None = None


class NegativeCreditDetail(DetailBase):
    """A broken promise reported to the credit bureau."""

    action: Literal[ActionKind.NEGATIVE_CREDIT_RECORD]
    promise_id: str | None = None
    broken_promises: int | None = None


class PaymentConflictDetail(DetailBase):
    """A payment signal whose payment_id is already booked with another amount: a signal
    cannot be refused, so nothing is booked and the conflict is recorded for people and the
    loan system to see (the update and the API answer it as a 409 instead)."""

    action: Literal[ActionKind.PAYMENT_CONFLICT]
    payment_id: str | None = None
    amount_on_record: str | None = None
    amount: str | None = None
    paid_at: str | None = Field(default=None, description="ISO instant the report gave")


class MigrationArrivalDetail(DetailBase):
    """An account brought over from another system, already overdue, taking its place on the
    ladder: at its stage's entry, and without the legal steps that were due on arrival (they
    need approval; domain/onboarding.py)."""

    action: Literal[ActionKind.MIGRATION_ARRIVAL]
    reason: str | None = None
    dpd: int | None = None
    entered_at: str | None = Field(default=None, description="the stage it entered at")
    withheld: list[str] | None = Field(
        default=None, description="legal steps due on arrival that were not fired"
    )


class UnscheduledContactDetail(DetailBase):
    """A call or visit reported before its task's window opened (`unscheduled: true`): what
    happened, the window it was scheduled for, the contact rules' verdict on it at the instant it
    was reported (`allowed`, else the `rule` it broke), and the supervisor review it asks for."""

    action: Literal[ActionKind.UNSCHEDULED_CONTACT]
    reported_task: str | None = Field(default=None, description="the task it was reported on")
    outcome: str | None = None
    task_kind: TaskKind | None = None
    to: str | None = Field(default=None, description="the number called (E.164)")
    party: str | None = None
    window_opens: str | None = Field(default=None, description="ISO instant")
    window_closes: str | None = Field(default=None, description="ISO instant")
    recorded_by: str | None = None
    allowed: bool | None = Field(default=None, description="the contact rules allowed it then")
    rule: str | None = Field(default=None, description="the rule it broke, when not allowed")
    review: str | None = Field(default=None, description="who must review it: supervisor")
    review_task: str | None = Field(default=None, description="the supervisor's approval task")


class ConsolidatedDetail(DetailBase):
    """A reminder or call step of this loan that another loan's message or call task of the
    same borrower already covers (it names this loan): nothing was sent or queued for it."""

    action: Literal[ActionKind.CONSOLIDATED]
    covered_action: str | None = Field(default=None, description="the step's action kind")
    step_id_covered: str | None = None
    covered_channel: str | None = None
    by_loan: str | None = Field(default=None, description="the loan whose contact covers it")
    by_action: str | None = Field(
        default=None, description="the covering contact's grant id: loan:episode:seq"
    )
    into_task: str | None = Field(default=None, description="the covering call task")
    dpd: int | None = None
    amount_overdue: Decimal | None = None
    currency: str | None = None


class SharedOutcomeDetail(DetailBase):
    """An outcome recorded on a call task that names several loans: on the task's loan, the
    loans it applies to and each one's share of a promise; on another loan, what it took."""

    action: Literal[ActionKind.SHARED_OUTCOME]
    shared_task: str | None = Field(default=None, description="the call task it was recorded on")
    outcome: str | None = None
    from_loan: str | None = None
    loans: list[str] | None = None
    shares: dict[str, Decimal] | None = Field(default=None, description="a promise's split")
    share: Decimal | None = Field(default=None, description="this loan's share of the promise")
    promised_date: date | None = None
    promise_id: str | None = None
    recorded_by: str | None = None
    currency: str | None = None


class LegalFilingDetail(DetailBase):
    """What became of a lawsuit filing under a strategy that needs approval or a minimum
    balance (issue 17 item 4): `withheld` (the balance is below the strategy's minimum: no
    approval asked, no suit), `approved` (the `legal.approved` event; the suit is filed in the
    same moment), `rejected` or `expired` (no suit; collection goes on)."""

    action: Literal[ActionKind.LEGAL_FILING]
    decision: Literal["withheld", "approved", "rejected", "expired"] | None = None
    step: str | None = Field(default=None, description="the filing step it decides")
    balance: Decimal | None = Field(default=None, description="the balance at the decision")
    min_suit_balance: Decimal | None = None
    currency: str | None = None
    requested_by: str | None = None
    decided_by: str | None = Field(default=None, description="the legal approver")
    approval_task: str | None = None
    case_id: str | None = Field(default=None, description="the case prepared for the suit")
    recalled_from: str | None = Field(
        default=None, description="the agency the account was recalled from before filing"
    )
    notes: str | None = None


class ComplaintRoutingDetail(DetailBase):
    action: Literal[ActionKind.COMPLAINT_ROUTING]
    recorded_by: str | None = None


# ---------------------------------------------------------------------- subflows


class RestructureOfferDetail(DetailBase):
    """The restructure offer letter: the terms the letter states."""

    action: Literal[ActionKind.RESTRUCTURE_OFFER]
    new_instalment_amount: Decimal | None = None
    instalment_count: int | None = None
    waiver_amount: Decimal | None = None
    expires_on: date | None = None
    child: str | None = Field(default=None, description="the restructure subflow's id")
    rescheduled_by: str | None = None


class RestructureAcceptedDetail(DetailBase):
    """An accepted restructure plan as the book took it (issue 17 item 1): the plan's
    instalments now on the book, what it collects, what was forgiven, what it replaced."""

    action: Literal[ActionKind.RESTRUCTURE_ACCEPTED]
    child: str | None = None
    total: Decimal | None = Field(default=None, description="what the plan collects")
    paid_since_offer: Decimal | None = None
    waived: Decimal | None = Field(default=None, description="penalty forgiven")
    rescheduled_penalty: Decimal | None = Field(
        default=None, description="penalty moved into the plan's instalments"
    )
    replaced: list[int] | None = Field(default=None, description="instalment seqs replaced")
    instalments: list[dict[str, Any]] | None = None
    balance: Decimal | None = None
    currency: str | None = None


class SettlementOfferDetail(DetailBase):
    """The settlement offer to a deceased borrower's estate."""

    action: Literal[ActionKind.SETTLEMENT_OFFER]
    amount: Decimal | None = None
    discount_pct: Decimal | None = None
    expires_on: date | None = None
    currency: str | None = None
    balance: Decimal | None = None
    to: str | None = None
    rescheduled_by: str | None = None


class SettlementAcceptedDetail(DetailBase):
    """The related parties paid the settlement offered after a death (issue 17 item 2): what
    was offered and paid, and what is written off — the balance left at settlement."""

    action: Literal[ActionKind.SETTLEMENT_ACCEPTED]
    child: str | None = Field(default=None, description="the write-off subflow it ended")
    amount: Decimal | None = Field(default=None, description="the settlement offered")
    paid: Decimal | None = Field(default=None, description="paid since the offer")
    balance_at_offer: Decimal | None = None
    written_off: Decimal | None = Field(default=None, description="the balance at settlement")
    currency: str | None = None


class ChildTaskFields(Untagged):
    """What the write-off subflow says of a verification or approval it asks for: its event
    (`task_needed`) and the parent's task action carry the same fields."""

    task_kind: TaskKind | None = None
    task_key: str | None = None
    checklist: list[dict[str, Any]] | None = None
    checks: list[str] | None = None
    reported_by: str | None = None
    requested_by: str | None = Field(default=None, description="who verified: four eyes")
    amount: Decimal | None = None
    currency: str | None = None
    reminder_of: str | None = None
    approves: str | None = Field(
        default=None, description="what an approval decides, e.g. `lawsuit_filing` (legal role)"
    )


class ChildTaskDetail(DetailBase, ChildTaskFields):
    """A verification or approval the write-off subflow asks a person for."""

    action: Literal[ActionKind.VERIFICATION_TASK, ActionKind.APPROVAL_TASK]


class WriteOffAnswerFields(Untagged):
    """A person's answer to a write-off's task, as its event and the parent's action say it."""

    task_key: str | None = None
    recorded_by: str | None = None
    notes: str | None = None


class PostingFields(Untagged):
    """A write-off posted to the loan system, as its event and the parent's action say it."""

    amount: Decimal | None = None
    currency: str | None = None
    posted_ref: str | None = None
    approved_by: str | None = None
    verified_by: str | None = None


class WriteOffDetail(DetailBase, WriteOffAnswerFields, PostingFields):
    """Where the write-off subflow ended: posted, not verified, or stalled for a supervisor."""

    action: Literal[ActionKind.WRITE_OFF]
    status: str | None = None
    next: str | None = None


class CaseDetail(DetailBase):
    """A dispute or complaint case opened, given evidence, past its deadline or resolved
    (workflows/account/cases.py); the store keeps the case from these (store/cases.py)."""

    action: Literal[
        ActionKind.CASE_OPENED,
        ActionKind.CASE_EVIDENCE,
        ActionKind.CASE_OVERDUE,
        ActionKind.CASE_RESOLVED,
    ]
    case_id: str | None = None
    case_kind: str | None = Field(default=None, description="dispute | complaint")
    opened_at: str | None = Field(default=None, description="ISO instant")
    deadline: str | None = Field(default=None, description="ISO instant")
    owner_queue: str | None = None
    by: str | None = Field(default=None, description="who opened, added to or resolved it")
    notes: str | None = None
    text: str | None = Field(default=None, description="evidence: what it says")
    document: str | None = Field(default=None, description="evidence: a document reference")
    resolution: str | None = Field(default=None, description="upheld | rejected")
    adjustment: str | None = Field(default=None, description="upheld: the balance taken off")
    balance_before: str | None = None
    balance_after: str | None = None
    currency: str | None = None


class MissedPaymentReasonDetail(DetailBase):
    """Why the borrower says the payment was missed (PLAYBOOK.md section 2), given with a call
    or visit outcome: one of the strategy's `missed_payment_reasons`."""

    action: Literal[ActionKind.MISSED_PAYMENT_REASON]
    code: str | None = None
    reported_task: str | None = Field(default=None, description="the task it was told on")
    task_kind: TaskKind | None = None
    outcome: str | None = None
    recorded_by: str | None = None
    dpd: int | None = None
    bucket: str | None = None


ActionDetail = Annotated[
    ReminderDetail
    | LetterDetail
    | CallTaskDetail
    | FieldVisitDetail
    | SkipTraceDetail
    | PlacementDetail
    | RecallDetail
    | LegalDetail
    | ContactBlockedDetail
    | DeliveryFailureDetail
    | ReassignmentDetail
    | HoldDetail
    | AgencyNoticeDetail
    | AgencyContactsDetail
    | NegativeCreditDetail
    | ComplaintRoutingDetail
    | LegalFilingDetail
    | UnscheduledContactDetail
    | MigrationArrivalDetail
    | PaymentConflictDetail
    | ConsolidatedDetail
    | SharedOutcomeDetail
    | RestructureOfferDetail
    | RestructureAcceptedDetail
    | SettlementOfferDetail
    | SettlementAcceptedDetail
    | ChildTaskDetail
    | WriteOffDetail
    | CaseDetail
    | MissedPaymentReasonDetail,
    Field(discriminator="action"),
]
"""One action's detail, told apart by its kind."""

DETAIL_ADAPTER: TypeAdapter[ActionDetail] = TypeAdapter(ActionDetail)


def read_detail(kind: str, data: object) -> ActionDetail:
    """An action's detail from JSON (a store row, a history payload) as its kind's model: the
    one reader of what the workflow wrote. Raises pydantic's ValidationError, naming the kind
    or the field, for a kind without a model or a field its model does not know."""
    if isinstance(data, DetailBase):
        data = data.model_dump(mode="json")
    fields = dict(data) if isinstance(data, dict) else {}
    if data is not None and not isinstance(data, dict):
        raise TypeError(f"the detail of a {kind} action is not an object: {data!r}")
    return DETAIL_ADAPTER.validate_python({**fields, "action": kind})


def detail_for(kind: str, /, **fields: object) -> ActionDetail:
    """A detail the workflow writes: `fields` as the model of `kind` (None means unsaid); `kind`
    is positional, so a detail may have a field of that name (a reassignment's)."""
    return read_detail(kind, fields)
