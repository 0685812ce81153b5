"""SQLModel tables of the SMS and voice channels: every outbound contact attempt, every inbound
reply, every change of SMS consent a borrower made by keyword.

`outbound_contacts` is the exactly-once ledger. Its row is written *before* the provider is called
and is keyed by the workflow's own identifiers (workflow_id, episode, action_seq), so a retried
activity finds what an earlier attempt did instead of texting the borrower again. `state` is our
knowledge of that attempt; `provider_status` is what Twilio (or the sandbox) last told us.

Business instants (`requested_at`) are the workflow's clock, passed in by the activity.
`called_at` and `last_called_at` are the worker's wall clock at the first and the latest
provider call: they only bound the reconciliation search in the provider's own message list and
tell whether an earlier attempt may still be in flight. `status_at` and `received_at` are
receipt times of provider callbacks at the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from domain.limits import LOAN_ID_LENGTH

# Attempt states of an outbound contact (OutboundContactRow.state).
CALLING = "calling"  # recorded, provider called or about to be: the outcome is unknown
NOT_ACCEPTED = "not_accepted"  # the provider certainly did not take it: safe to call again
ACCEPTED = "accepted"  # the provider took it (provider_sid is set): never send again
REFUSED = "refused"  # the provider (or our consent record) refused it for good: error_code says why

ATTEMPT_STATES = (CALLING, NOT_ACCEPTED, ACCEPTED, REFUSED)

# Signal bookkeeping on rows that must reach the AccountWorkflow (signal_outcome columns).
SIGNALLING = "signalling"  # claimed by a webhook delivery that is signalling right now
SIGNALLED = "signalled"
NO_WORKFLOW = "no_workflow"  # no open workflow for the loan: the fact is recorded, nothing to tell
NO_ACCOUNT = "no_account"  # a number we never contacted: kept, but there is no account to tell
NOT_NEEDED = "not_needed"  # nothing to tell (HELP), or other rows carry the signal (consent)
IN_RESULT = "in_result"  # the failure was already known to the activity and in its result

# Provider statuses that mean an accepted contact did not reach the borrower.
FAILED_STATUSES: dict[str, frozenset[str]] = {
    "sms": frozenset({"undelivered", "failed"}),
    "voice": frozenset({"failed"}),
}


def _instant(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


class OutboundContactRow(SQLModel, table=True):
    """One SMS or voice call the workflow asked for, from attempt to final provider status."""

    __tablename__ = "outbound_contacts"
    __table_args__ = (
        UniqueConstraint(
            "workflow_id", "episode", "action_seq", name="uq_outbound_contacts_attempt"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    workflow_id: str = Field(max_length=100)
    episode: str = Field(max_length=64)
    action_seq: int
    channel: str = Field(max_length=10, description="sms | voice")
    kind: str = Field(max_length=40, description="the action kind, e.g. sms_reminder")
    template: str | None = Field(default=None, max_length=80)
    locale: str = Field(max_length=20, description="the template locale actually used")
    to_number: str = Field(max_length=32, index=True)
    from_number: str = Field(max_length=32)
    body: str = _text()  # the SMS text, or the TwiML of a call
    segments: int | None = None
    encoding: str | None = Field(default=None, max_length=10)
    state: str = Field(max_length=20, index=True)
    attempts: int = 0
    provider_sid: str | None = Field(default=None, max_length=64, unique=True)
    provider_status: str | None = Field(default=None, max_length=20)
    error_code: int | None = None
    answered_by: str | None = Field(default=None, max_length=30)
    duration_seconds: int | None = None
    reconciled: bool = False
    requested_at: datetime | None = _instant(nullable=False)
    called_at: datetime | None = _instant()  # first provider call (wall clock)
    last_called_at: datetime | None = _instant()  # latest provider call (wall clock)
    status_at: datetime | None = _instant()
    signal_outcome: str | None = Field(default=None, max_length=20)


class InboundMessageRow(SQLModel, table=True):
    """A message a borrower sent us, attached to the account that last contacted the number."""

    __tablename__ = "inbound_messages"

    id: int | None = Field(default=None, primary_key=True)
    provider_sid: str = Field(max_length=64, unique=True)
    from_number: str = Field(max_length=32, index=True)
    to_number: str = Field(max_length=32)
    body: str = _text()
    kind: str = Field(max_length=20, description="opt_out | opt_in | help | reply")
    keyword: str | None = Field(default=None, max_length=20)
    loan_id: str | None = Field(default=None, max_length=LOAN_ID_LENGTH, index=True)
    received_at: datetime | None = _instant(nullable=False)
    signal_outcome: str | None = Field(default=None, max_length=20)


class ConsentChangeRow(SQLModel, table=True):
    """A borrower revoked or restored consent for a channel; the latest row for a number wins."""

    __tablename__ = "consent_changes"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, index=True)
    loan_id: str | None = Field(default=None, max_length=LOAN_ID_LENGTH, index=True)
    channel: str = Field(max_length=10)
    granted: bool
    source: str = Field(max_length=40, description="e.g. inbound_keyword")
    keyword: str | None = Field(default=None, max_length=20)
    inbound_sid: str | None = Field(default=None, max_length=64, index=True)
    at: datetime | None = _instant(nullable=False)
    signal_outcome: str | None = Field(default=None, max_length=20)


# --------------------------------------------------------------------------------- queries


def sms_consent_revoked(session: Session, number: str) -> bool:
    """Whether the borrower's latest keyword at this number revoked SMS consent.

    The workflow hears about a STOP by signal, but an SMS already on its way to the channel must
    not slip through in the meantime: the channel asks the store too.
    """
    latest = session.exec(
        select(ConsentChangeRow)
        .where(ConsentChangeRow.number == number, ConsentChangeRow.channel == "sms")
        .order_by(col(ConsentChangeRow.id).desc())
    ).first()
    return latest is not None and not latest.granted


def loans_for_number(session: Session, number: str, limit: int = 20) -> list[str]:
    """Loans that contacted this number, most recent first: who a reply or a STOP concerns."""
    rows = session.exec(
        select(OutboundContactRow.loan_id, OutboundContactRow.id)
        .where(OutboundContactRow.to_number == number)
        .order_by(col(OutboundContactRow.id).desc())
        .limit(limit * 10)
    ).all()
    loans: list[str] = []
    for loan_id, _id in rows:
        if loan_id not in loans:
            loans.append(loan_id)
    return loans[:limit]


def latest_locale_for_number(session: Session, number: str) -> str | None:
    """The locale we last wrote to this number in, to answer HELP in the same language."""
    row = session.exec(
        select(OutboundContactRow.locale)
        .where(OutboundContactRow.to_number == number)
        .order_by(col(OutboundContactRow.id).desc())
    ).first()
    return row


def mask_number(number: str | None) -> str:
    """Logs and error messages show a phone number only masked (DESIGN.md: PII stays protected)."""
    if not number:
        return "-"
    if len(number) <= 6:
        return "*" * len(number)
    head = min(6, len(number) - 6)  # at least two digits stay hidden
    return number[:head] + "*" * (len(number) - head - 4) + number[-4:]
