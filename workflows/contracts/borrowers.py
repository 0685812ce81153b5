"""The contract of the BorrowerWorkflow (docs/borrowers.md): its names, the grant request a
loan sends before its contacts go out, the loan's registration, the hold a borrower passes on to
its loans, and the borrower's view the API shows.

Plain pydantic models, like the account's contracts: the API and the activities import these,
never the workflow's code.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field

from domain.contact.borrower import (
    BorrowerBook,
    BorrowerFacts,
    GrantAnswer,
    GrantCandidate,
    HolderEvent,
    HoldEvent,
)
from domain.contact.consolidation import (
    CandidateShape,
    ConsolidationBook,
    Coverage,
    LoanDue,
    NamedLoan,
    SharedOutcome,
)
from domain.contact.context import BorrowerContext
from domain.contact.holds import Hold
from domain.contact.ledger import ContactLedger
from domain.contact.person_channels import PersonChannels
from domain.policy import EpisodePolicy

__all__ = [
    "BORROWER_CONFLICT",
    "BORROWER_WORKFLOW",
    "REQUEST_GRANTS",
    "HISTORY_LIMIT",
    "BorrowerChannelsSignal",
    "BorrowerHoldSignal",
    "BorrowerHolderSignal",
    "BorrowerInput",
    "BorrowerOutcomeSignal",
    "BorrowerQuery",
    "BorrowerSignal",
    "BorrowerUpdate",
    "BorrowerView",
    "BorrowerWithdrawSignal",
    "GrantRequest",
    "GrantResult",
    "LoanRegistration",
    "borrower_workflow_id",
]

BORROWER_WORKFLOW = "BorrowerWorkflow"
BORROWER_CONFLICT = "borrower_conflict"
"""The refusal of a loan whose name, time zone or jurisdiction differs from its borrower's."""
HISTORY_LIMIT = 4000
"""Events after which the BorrowerWorkflow continues as new (each grant is an update of a few
events; the server's own suggestion comes much later). Read at run time, so a test may lower
it."""
REQUEST_GRANTS = "request_grants"  # the activity: (borrower_id, GrantRequest) → GrantResult


def borrower_workflow_id(borrower_id: str) -> str:
    """One authority per borrower id (never PII: the loan system's own key)."""
    return f"borrower-{borrower_id}"


class BorrowerUpdate(StrEnum):
    REGISTER = "register_loan"  # LoanRegistration → BorrowerView
    GRANT = "grant_contacts"  # GrantRequest → GrantResult


class BorrowerQuery(StrEnum):
    VIEW = "view"  # datetime | None → BorrowerView


class BorrowerSignal(StrEnum):
    """What the borrower tells its loans (sent to each AccountWorkflow)."""

    HOLD = "borrower_hold"  # BorrowerHoldSignal
    WITHDRAW = "borrower_withdraw"  # BorrowerWithdrawSignal
    HOLDER = "borrower_holder"  # BorrowerHolderSignal
    OUTCOME = "borrower_outcome"  # BorrowerOutcomeSignal (consolidation)
    CHANNELS = "borrower_channels"  # BorrowerChannelsSignal


class BorrowerInput(BaseModel):
    """Start, or continue-as-new with the book (the rolling window only) carried."""

    borrower_id: str
    book: BorrowerBook | None = None
    loans: list[str] = Field(default_factory=list)
    policy: EpisodePolicy | None = None
    context: BorrowerContext | None = None
    consolidation: ConsolidationBook | None = None


class LoanRegistration(BaseModel):
    """A loan joins its borrower when it starts; its facts must agree with the others'."""

    loan_id: str
    facts: BorrowerFacts
    dues: LoanDue | None = Field(
        default=None,
        description="the loan's schedule (`scheduled_dues`), so the borrower's messages can "
        "name it before it first reports (consolidation); absent in registrations before it",
    )


class GrantRequest(BaseModel):
    """Before a moment's contacts go out: the loan's own ledger (without the candidates), the
    candidates, the borrower holds placed or released on the loan since it last asked, and what
    the borrower's authority needs to decide with (the loan's pinned policy and context)."""

    loan_id: str
    facts: BorrowerFacts
    policy: EpisodePolicy
    context: BorrowerContext
    ledger: ContactLedger
    candidates: list[GrantCandidate] = Field(default_factory=list)
    hold_events: list[HoldEvent] = Field(default_factory=list)
    holder_events: list[HolderEvent] = Field(default_factory=list)
    # Consolidation (docs/borrowers.md): the loan's money now, which candidates are reminders or
    # call tasks of an overdue loan, and outcomes of its call tasks that name other loans.
    dues: LoanDue | None = None
    shapes: list[CandidateShape] = Field(default_factory=list)
    shared_outcomes: list[SharedOutcome] = Field(default_factory=list)
    channels_base: PersonChannels | None = None
    """The person's numbers and consents as this loan last took them from the borrower (None:
    never, or not since it continued as new); what `ledger` holds beyond them the loan changed."""


class GrantResult(BaseModel):
    """One answer per candidate, in order, and the borrower's holds and holder now (a loan that
    joined later, or missed a signal, follows them)."""

    answers: list[GrantAnswer]
    holds: list[Hold] = Field(default_factory=list)
    holder: str | None = None
    # Consolidation: candidates another loan's message or call task covers (answered granted,
    # and taken back by the loan as covered), and the loans a granted one names (when several).
    covered: dict[str, Coverage] = Field(default_factory=dict)
    names: dict[str, list[NamedLoan]] = Field(default_factory=dict)
    channels: PersonChannels | None = None
    """The person's dead, STOP'd and no-SMS numbers and consents after this request."""


class BorrowerHoldSignal(BaseModel):
    """A borrower hold placed or released on another loan: this loan follows."""

    borrower_id: str
    kind: str
    placed: bool
    at: AwareDatetime
    from_loan: str
    detail: dict[str, str] = Field(default_factory=dict)


class BorrowerHolderSignal(BaseModel):
    """Another loan of the borrower was reassigned or escalated: this loan follows."""

    borrower_id: str
    to: str
    kind: str
    reason: str
    from_loan: str


class BorrowerChannelsSignal(BaseModel):
    """The person's numbers or consents changed on another loan: this loan takes them."""

    borrower_id: str
    channels: PersonChannels
    from_loan: str


class BorrowerWithdrawSignal(BaseModel):
    """Open call tasks of this loan that the borrower's contacts on other loans now bar."""

    borrower_id: str
    task_ids: list[str]
    rule: str


class BorrowerOutcomeSignal(BaseModel):
    """An outcome recorded on another loan's call task that names this loan too: it applies
    here (recorded; a promise's share made), but the call is counted once, on the task's loan."""

    borrower_id: str
    outcome: SharedOutcome


class BorrowerView(BaseModel):
    """The borrower as its authority knows it (GET /v1/borrowers/{id} adds the summaries)."""

    borrower_id: str
    loans: list[str]
    holds: list[Hold]
    contacts_today: int
    contacts_left: dict[str, int]
    as_of: datetime
