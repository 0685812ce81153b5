"""The channels (issue 6): what the `deliver` activity is asked to send and answers, and the facts
about the borrower's channels that webhooks and collectors send the workflow."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts.moments import ActionCommand

__all__ = [
    "ContactEvent",
    "ContactEventDetail",
    "ContactEventKind",
    "DeliveryRequest",
    "DeliveryResult",
    "DeliveryTarget",
]


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


DeliveryStatus = Literal["sent", "failed", "written"]


class DeliveryResult(BaseModel):
    """What the channel did. `status`: sent (provider accepted), failed (provider refused: the
    `error_code` says why, e.g. Twilio 21211 invalid number, 21610 unsubscribed, 21614 cannot
    receive SMS), written (a letter put into the dispatch batch)."""

    seq: int
    kind: str
    channel: str
    status: DeliveryStatus
    provider_id: str | None = None
    error_code: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(
        cls,
        action: ActionCommand,
        status: DeliveryStatus,
        provider_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> DeliveryResult:
        """The result for one action of the moment (its seq, kind and channel)."""
        return cls(
            seq=action.seq,
            kind=action.kind,
            channel=action.channel,
            status=status,
            provider_id=provider_id,
            detail=detail or {},
        )


ContactEventKind = Literal[
    "consent_revoked",  # an inbound STOP-type reply, or a collector's change
    "consent_restored",  # START / YES / UNSTOP
    "delivery_failed",  # a status callback said undelivered/failed
    "number_dead",  # the provider says the number is invalid / cannot receive
    "inbound_reply",  # any other reply, attached to the account for the collector
]


class ContactEventDetail(BaseModel):
    """What the webhook knew of a contact event: the provider's callback (status, error code,
    the action it answers) or the inbound message (its id and keyword). `event_id` makes a
    re-sent callback count once."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = None
    provider_id: str | None = None
    status: str | None = Field(default=None, description="the provider's delivery status")
    error_code: int | None = None
    episode: str | None = None
    action_seq: int | None = None
    inbound_id: int | None = None
    keyword: str | None = None


class ContactEvent(BaseModel):
    """A fact about the borrower's channels from outside (webhooks, collectors), sent to the
    AccountWorkflow as the `contact_event` signal."""

    kind: ContactEventKind
    channel: Literal["sms", "voice"] = "sms"
    number: str | None = None
    at: datetime
    detail: ContactEventDetail = Field(default_factory=ContactEventDetail)
