"""What a person reports after working a task (CONTRACT.md, "Task and outcomes").

The outcome codes a task kind accepts are data here, so the API refuses a `visited_met` on a call
task before anything reaches a workflow, and the workflow can trust what it receives.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.account import Phone, PhoneNumber, PromiseIn

__all__ = [
    "OUTCOMES_BY_TASK_KIND",
    "RIGHT_PARTY_OUTCOMES",
    "ContactInfo",
    "HardshipIn",
    "OutcomeIn",
    "RefusalReason",
    "outcome_error",
]

CALL_OUTCOMES = (
    "promise_to_pay",
    "paid_claimed",
    "no_answer",
    "busy",
    "wrong_number",
    "number_dead",
    "third_party",
    "refused",
    "hardship",
    "callback_requested",
    "deceased_reported",
    "bankruptcy_reported",
    "restructure_accepted",
    "restructure_declined",
)

OUTCOMES_BY_TASK_KIND: dict[str, tuple[str, ...]] = {
    "call": CALL_OUTCOMES,
    "field_visit": ("visited_met", "visited_not_met", "address_invalid"),
    "skip_trace": ("found", "not_found"),
    "verification": ("verified", "not_verified"),
    "approval": ("approved", "rejected"),
}

RIGHT_PARTY_OUTCOMES = frozenset(
    {
        "promise_to_pay",
        "paid_claimed",
        "refused",
        "hardship",
        "callback_requested",
        "restructure_accepted",
        "restructure_declined",
        "visited_met",
    }
)
"""Outcomes that were a conversation with the borrower themself (a right-party contact): what the
workflow counts as reaching them, and the operations report's right-party-contact rate."""

UNSCHEDULED_KINDS = ("call", "field_visit")
"""Task kinds whose contact can have happened before the task's window opened."""

OutcomeCode = Literal[
    "promise_to_pay",
    "paid_claimed",
    "no_answer",
    "busy",
    "wrong_number",
    "number_dead",
    "third_party",
    "refused",
    "hardship",
    "callback_requested",
    "deceased_reported",
    "bankruptcy_reported",
    "restructure_accepted",
    "restructure_declined",
    "visited_met",
    "visited_not_met",
    "address_invalid",
    "found",
    "not_found",
    "verified",
    "not_verified",
    "approved",
    "rejected",
]

RefusalReason = Literal["complaint", "collector_grievance", "fraud_suspected", "other"]
BrokenPromiseReason = Literal["stalling", "emergency", "oversight", "debit_file_error", "other"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HardshipIn(_Input):
    """Unable to pay (playbook section 9): the cause, whether it is short or long, and whether
    the borrower can get over it."""

    cause: str = Field(min_length=1, max_length=200)
    term: Literal["short", "long"]
    surmountable: bool
    notes: str | None = Field(default=None, max_length=2000)
    plan: list[PromiseIn] | None = Field(
        default=None,
        max_length=12,
        description="short term only: a partial-payment plan, a series of promises paid in "
        "order, instead of the grace period",
    )

    @model_validator(mode="after")
    def _plan_only_for_short_term(self) -> Self:
        if self.plan is not None and self.term != "short":
            raise ValueError("a partial-payment plan is for short-term hardship only")
        return self


class ContactInfo(_Input):
    """New or dead phones and addresses, from a collector or a skip trace."""

    phones: list[Phone] = Field(default_factory=list)
    dead_phones: list[PhoneNumber] = Field(default_factory=list)
    address: str | None = Field(default=None, max_length=500)
    address_invalid: bool = False
    consents: dict[Literal["sms", "voice"], bool] = Field(default_factory=dict)


class OutcomeIn(_Input):
    """The body of `POST /v1/tasks/{task_id}/outcome`; which extra fields an outcome needs is
    checked by `outcome_error` against the task's kind."""

    outcome: OutcomeCode
    promise: PromiseIn | None = None
    hardship: HardshipIn | None = None
    reason: RefusalReason | None = None
    at: AwareDatetime | None = Field(default=None, description="callback_requested: when")
    contact_info: ContactInfo | None = None
    broken_promise_reason: BrokenPromiseReason | None = None
    notes: str | None = Field(default=None, max_length=2000)
    missed_payment_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="call or visit: why the borrower says the payment was missed, one of the "
        "account's strategy's `missed_payment_reasons` codes (an unknown one → 422 naming them)",
    )
    unscheduled: bool | None = Field(
        default=None,
        description="the call or visit really happened before the task's window opened: it is "
        "recorded as an unscheduled contact, audited against the contact rules at the instant "
        "it is reported and flagged for a supervisor's review (without it, an outcome before "
        "the window opens is refused: 409 task_not_open)",
    )

    @model_validator(mode="after")
    def _carries_what_it_needs(self) -> Self:
        needs = {
            "promise_to_pay": ("promise", self.promise),
            "hardship": ("hardship", self.hardship),
            "refused": ("reason", self.reason),
            "callback_requested": ("at", self.at),
            "found": ("contact_info", self.contact_info),
        }
        if self.outcome in needs:
            field, value = needs[self.outcome]
            if value is None:
                raise ValueError(f"The outcome {self.outcome!r} needs the field {field!r}.")
        return self


def outcome_error(task_kind: str, outcome: OutcomeIn) -> str | None:
    """Why this outcome cannot close a task of this kind, or None when it can."""
    allowed = OUTCOMES_BY_TASK_KIND.get(task_kind)
    if allowed is None:
        return f"Tasks of kind {task_kind!r} take no outcomes."
    if outcome.outcome not in allowed:
        return (
            f"The outcome {outcome.outcome!r} does not apply to a {task_kind} task; "
            f"it takes one of: {', '.join(allowed)}."
        )
    if outcome.unscheduled and task_kind not in UNSCHEDULED_KINDS:
        return (
            f"Only a call or a visit can have happened unscheduled; a {task_kind} task takes "
            "no `unscheduled` outcome."
        )
    return None
