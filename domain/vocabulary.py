"""The words of collections every layer spells: account states, action kinds, task kinds, the
channels an action goes out on, and which actions are contacts with the borrower.

One module, so the workflow that writes a word, the store and the timeline that read it, the API
that answers it and the simulator that plays it cannot drift apart (issue 14: states were spelled
in five places, and two lists of "contact" actions disagreed). Plain `StrEnum`s: a member *is*
its string, so JSON, the store's columns and workflow histories keep the same spelling. The
contact rules' own words (channels, parties, results) are `domain.contact.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum, auto
from types import MappingProxyType
from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic_core import CoreSchema


class AccountState(StrEnum):
    """Where an episode stands (CONTRACT.md AccountStatus.state)."""

    PRE_DUE = "pre_due"
    PAID_ON_TIME = "paid_on_time"
    DELINQUENT = "delinquent"
    CURED = "cured"
    RESTRUCTURED = "restructured"
    WRITTEN_OFF = "written_off"
    CLOSED = "closed"

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        """The API's documents show an example of every schema (CONTRACT.md)."""
        document = handler(schema)
        document["examples"] = [cls.DELINQUENT.value]
        return document


CLOSED_STATES: frozenset[AccountState] = frozenset(
    {AccountState.PAID_ON_TIME, AccountState.CURED, AccountState.WRITTEN_OFF, AccountState.CLOSED}
)
"""States in which the episode is over. `restructured` is not one: the account stays open,
paused, while its DebtRestructureWorkflow watches the new plan."""

OPEN_STATES: frozenset[AccountState] = frozenset(AccountState) - CLOSED_STATES
"""States of an episode still running: pre_due, delinquent, restructured."""


class ActionKind(StrEnum):
    """Every kind of action the AccountWorkflow records (the store's `actions.kind`)."""

    # ladder and branch steps a strategy names (domain.strategy.ActionKind)
    SMS_REMINDER = "sms_reminder"
    VOICE_REMINDER = "voice_reminder"
    CALL_TASK = "call_task"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"
    SKIP_TRACE = "skip_trace"
    OCA_PLACEMENT = "oca_placement"
    OCA_RECALL = "oca_recall"
    LAWYER_LETTER = "lawyer_letter"
    ASSET_PRESERVATION = "asset_preservation"
    LAWSUIT = "lawsuit"
    # offers and subflow steps
    RESTRUCTURE_OFFER = "restructure_offer"
    RESTRUCTURE_ACCEPTED = "restructure_accepted"
    SETTLEMENT_OFFER = "settlement_offer"
    SETTLEMENT_ACCEPTED = "settlement_accepted"
    VERIFICATION_TASK = "verification_task"
    APPROVAL_TASK = "approval_task"
    WRITE_OFF = "write_off"
    # decisions recorded by the episode itself
    COMPLAINT_ROUTING = "complaint_routing"
    REASSIGNMENT = "reassignment"
    NEGATIVE_CREDIT_RECORD = "negative_credit_record"
    CONTACT_BLOCKED = "contact_blocked"
    DELIVERY_FAILURE = "delivery_failure"
    HOLD_PLACED = "hold_placed"
    HOLD_RELEASED = "hold_released"
    OCA_HOLD_NOTICE = "oca_hold_notice"
    OCA_RESUME_NOTICE = "oca_resume_notice"
    AGENCY_CONTACTS = "agency_contacts"
    MIGRATION_ARRIVAL = "migration_arrival"
    UNSCHEDULED_CONTACT = "unscheduled_contact"
    PAYMENT_CONFLICT = "payment_conflict"
    # consolidation across a borrower's loans (docs/borrowers.md)
    CONSOLIDATED = "consolidated"
    SHARED_OUTCOME = "shared_outcome"
    # disputes and complaints as cases, and why a payment was missed (issue 17 items 6-7)
    CASE_OPENED = "case_opened"
    CASE_EVIDENCE = "case_evidence"
    CASE_RESOLVED = "case_resolved"
    CASE_OVERDUE = "case_overdue"
    MISSED_PAYMENT_REASON = "missed_payment_reason"
    LEGAL_FILING = "legal_filing"


class TaskKind(StrEnum):
    """Work for a person (the store's `tasks.kind`); each is its name in lower case."""

    CALL = auto()
    FIELD_VISIT = auto()
    SKIP_TRACE = auto()
    VERIFICATION = auto()
    APPROVAL = auto()


TASK_KINDS: Mapping[str, TaskKind] = MappingProxyType(
    {
        kind: TaskKind(kind.removesuffix("_task"))
        for kind in (
            ActionKind.CALL_TASK,
            ActionKind.FIELD_VISIT,
            ActionKind.SKIP_TRACE,
            ActionKind.VERIFICATION_TASK,
            ActionKind.APPROVAL_TASK,
        )
    }
)
"""Actions that are work for a person: the action kind and the kind of task it creates (its
name without `_task`: call_task → call, field_visit → field_visit)."""


class ActionChannel(StrEnum):
    """The channel an action is recorded on (a strategy step's `channel`)."""

    SMS = "sms"
    VOICE = "voice"
    PHONE = "phone"
    MAIL = "mail"
    FIELD = "field"
    AGENCY = "agency"
    LEGAL = "legal"
    INTERNAL = "internal"


CONTACT_CHANNEL: Mapping[str, str] = MappingProxyType(
    {
        ActionKind.SMS_REMINDER: "sms",
        ActionKind.VOICE_REMINDER: "voice",
        ActionKind.CALL_TASK: "call",
        ActionKind.LETTER: "letter",
        ActionKind.LAWYER_LETTER: "letter",
        ActionKind.FIELD_VISIT: "field_visit",
    }
)
"""Ladder actions that reach the borrower, and the channel the contact rules know them by
(`domain.contact.vocabulary.Channel`). Agency placement, legal steps and skip traces are not
contacts with the borrower."""

OFFER_LETTERS: Mapping[str, str] = MappingProxyType(
    {ActionKind.RESTRUCTURE_OFFER: "borrower", ActionKind.SETTLEMENT_OFFER: "guarantor"}
)
"""The offer letters the subflows ask for, and the party each goes to. The settlement offer after
a death goes to the estate's representatives, who answer for the estate's debts; the contact
rules know them as `guarantor` (not the borrower, not an unrelated third party)."""

SENT_CONTACTS: frozenset[str] = frozenset(
    kind for kind in CONTACT_CHANNEL if kind not in TASK_KINDS
)
"""Ladder contacts a channel sends without a person: SMS and voice reminders, letters. Calls and
visits are contacts too, but as tasks a person works."""

AUTOMATED_CONTACTS: frozenset[str] = SENT_CONTACTS | frozenset(OFFER_LETTERS)
"""Everything a channel sends the borrower (or the estate): the ladder's reminders and letters,
and the subflows' offer letters. The explained timeline calls these contacts, every other action
a decision."""


class Refusal(StrEnum):
    """Why a workflow refused a message before it entered history: the type of the non-retryable
    ApplicationError an update's validator raises (the API maps each to an HTTP answer)."""

    INVALID_PROMISE = "InvalidPromise"
    NOT_ALLOWED = "NotAllowedInState"
    SUPERVISOR_REQUIRED = "SupervisorRequired"
    TASK_CLOSED = "TaskClosed"
    INVALID_OUTCOME = "InvalidOutcome"
    NO_PLACEMENT = "NoPlacement"
    NO_SUCH_HOLD = "NoSuchHold"
    NO_OPEN_OFFER = "NoOpenOffer"
    PAYMENT_CONFLICT = "PaymentConflict"
    INVALID_PAYMENT = "InvalidPayment"
    ACCOUNT_CLOSED = "AccountClosed"
    TASK_NOT_OPEN = "TaskNotOpen"
    CASE_CLOSED = "CaseClosed"
    INVALID_ADJUSTMENT = "InvalidAdjustment"


class EventType(StrEnum):
    """The business facts the loan system hears (CONTRACT.md v1.1 events, `GET /v1/events` and
    the webhook): one spelling for the producers, the store and the API."""

    ACCOUNT_OPENED = "account.opened"
    ACCOUNT_DELINQUENT = "account.delinquent"
    BUCKET_CHANGED = "bucket.changed"
    PAYMENT_APPLIED = "payment.applied"
    PAYMENT_CONFLICT = "payment.conflict"
    PROMISE_MADE = "promise.made"
    PROMISE_KEPT = "promise.kept"
    PROMISE_BROKEN = "promise.broken"
    CREDIT_NEGATIVE_RECORD = "credit.negative_record"
    ACCOUNT_CURED = "account.cured"
    RESTRUCTURE_ACCEPTED = "restructure.accepted"
    PENALTY_WAIVED = "penalty.waived"
    AGENCY_PLACED = "agency.placed"
    AGENCY_RECALLED = "agency.recalled"
    LEGAL_APPROVED = "legal.approved"
    LEGAL_FILED = "legal.filed"
    SETTLEMENT_ACCEPTED = "settlement.accepted"
    WRITE_OFF_APPROVED = "write_off.approved"
    ACCOUNT_CLOSED = "account.closed"
    CASE_OPENED = "case.opened"
    CASE_OVERDUE = "case.overdue"
    CASE_RESOLVED = "case.resolved"
    BALANCE_ADJUSTED = "balance.adjusted"


class ErrorCode(StrEnum):
    """The API's error codes (CONTRACT.md "Errors": `error.code`, snake_case, stable: clients
    branch on them). Every code the API answers is one of these (tests/unit/test_vocabulary.py
    reads the API's code to hold it to that)."""

    ACCOUNT_CLOSED = "account_closed"
    ADVANCE_IN_PROGRESS = "advance_in_progress"
    BAD_REQUEST = "bad_request"
    CASE_CLOSED = "case_closed"
    CASE_STATUS_BACKWARDS = "case_status_backwards"
    CLOCK_STALLED = "clock_stalled"
    CONFLICT = "conflict"
    EPISODE_CLOSED = "episode_closed"
    DUPLICATE_AGENCY = "duplicate_agency"
    ERROR = "error"
    FORBIDDEN = "forbidden"
    FOUR_EYES = "four_eyes"
    INTERNAL_ERROR = "internal_error"
    INVALID_INPUT = "invalid_input"
    INVALID_OUTCOME = "invalid_outcome"
    INVALID_PERIOD = "invalid_period"
    INVALID_PROMISE = "invalid_promise"
    INVALID_SIGNATURE = "invalid_signature"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ALLOWED_IN_STATE = "not_allowed_in_state"
    NOT_FOUND = "not_found"
    NOT_PLACED = "not_placed"
    NOT_SETTLED = "not_settled"
    NOT_TEAM_LEAD = "not_team_lead"
    NO_OPEN_OFFER = "no_open_offer"
    NO_SUCH_HOLD = "no_such_hold"
    NO_TASK = "no_task"
    OUTCOME_CONFLICT = "outcome_conflict"
    PAYLOAD_KEY_MISSING = "payload_key_missing"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PAYMENT_CONFLICT = "payment_conflict"
    SANDBOX_ERROR = "sandbox_error"
    SANDBOX_NOT_IN_USE = "sandbox_not_in_use"
    SANDBOX_UNREACHABLE = "sandbox_unreachable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    STARTED_STATUS_UNAVAILABLE = "started_status_unavailable"
    STRATEGY_UNAVAILABLE = "strategy_unavailable"
    SUPERVISOR_REQUIRED = "supervisor_required"
    TASK_BARRED = "task_barred"
    TASK_BUSY = "task_busy"
    TASK_CLOSED = "task_closed"
    TASK_HELD = "task_held"
    TASK_NOT_OPEN = "task_not_open"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    TOO_MANY_ITEMS = "too_many_items"
    TOO_MANY_REQUESTS = "too_many_requests"
    UNAUTHENTICATED = "unauthenticated"
    UNKNOWN_STAFF = "unknown_staff"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_ERROR = "validation_error"
    VIRTUAL_TIME_OFF = "virtual_time_off"
    WEBHOOK_SECRET_MISSING = "webhook_secret_missing"
    WORKFLOW_CLOSED = "workflow_closed"
