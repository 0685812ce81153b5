"""The names the AccountWorkflow answers to: its type, signals, updates and query.

One spelling, bound to the handlers by the workflow's decorators and used by every caller (the
API, the webhooks, the simulator), so a renamed handler is a type error instead of a message that
silently goes nowhere. Each name stands beside the payload and result types it carries in
`workflows.contracts`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACCOUNT_WORKFLOW", "AccountQuery", "AccountSignal", "AccountUpdate"]

ACCOUNT_WORKFLOW = "AccountWorkflow"


class AccountSignal(StrEnum):
    """Fire-and-forget messages: payload → nothing."""

    PAYMENT = "payment"  # PaymentIn
    INSTALMENTS = "instalments"  # InstalmentsIn
    CONTACT_EVENT = "contact_event"  # ContactEvent
    SUBFLOW_EVENT = "subflow_event"  # SubflowEvent (from the child workflows)


class AccountUpdate(StrEnum):
    """Validated requests with an answer: payload → result."""

    # PaymentIn → PaymentBooked. The API's way in: its validator answers a conflicting repeat
    # before it enters history. The `payment` signal stays for episodes started before it.
    PAYMENT = "record_payment"
    PROMISE = "promise"  # PromiseRequest → PromiseView
    HARDSHIP = "hardship"  # HardshipRequest → HardshipResult
    RESTRUCTURE_ANSWER = "restructure_answer"  # RestructureAnswer → RestructureAnswerResult
    TASK_OUTCOME = "task_outcome"  # TaskOutcome → TaskOutcomeResult
    REASSIGN = "reassign"  # ReassignRequest → ReassignResult
    ADD_HOLD = "add_hold"  # HoldRequest → HoldView
    RELEASE_HOLD = "release_hold"  # HoldRelease → HoldView
    RECALL_AGENCY = "recall_agency"  # AgencyRecallRequest → AgencyRecallResult
    AGENCY_CONTACTS = "agency_contacts"  # AgencyContactsRequest → AgencyContactsResult
    CONTACT_INFO = "contact_info"  # ContactInfoRequest → ContactInfoResult
    CASE_EVIDENCE = "case_evidence"  # CaseEvidenceRequest → CaseAnswer
    RESOLVE_CASE = "resolve_case"  # CaseResolution → CaseAnswer


class AccountQuery(StrEnum):
    STATUS = "status"  # as_of → AccountStatus
    COMPLIANCE = "compliance"  # as_of → ComplianceStatus (what the gate allows next)
