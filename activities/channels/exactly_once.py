"""Exactly-once delivery through a provider that has no idempotency key (Twilio).

Temporal retries activities, so a channel's `send` can run many times for one action. The ledger
row in `outbound_contacts`, keyed by (workflow_id, episode, action_seq), is written before the
provider is called and tells each run what the earlier ones did:

- accepted (a provider sid is recorded) or refused for good → answer what was recorded, send
  nothing;
- not accepted (never called, or the provider certainly did not take it: connection refused,
  429, 503) → call the provider;
- calling (the provider was called and we do not know what happened: a timeout, a dropped
  connection, a 500/502/504, or the worker died before writing the answer down) → ask the
  provider first: list its messages (calls) to that number since the first attempt and take the
  one we sent (same body, not already claimed by another row); only if there is none, call again.

Only errors where the provider certainly did not accept are retried without reconciling. A
permanent refusal (invalid number 21211, unsubscribed 21610, cannot receive SMS 21614, bad
credentials 20003, any other 4xx but 429) is a result, `failed` with the error code, not an
exception: the workflow decides what it means.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import requests
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from store.channels import (
    ACCEPTED,
    CALLING,
    FAILED_STATUSES,
    IN_RESULT,
    NOT_ACCEPTED,
    REFUSED,
    OutboundContactRow,
    mask_number,
)
from store.engine import as_utc, session_scope
from workflows.contracts import DeliveryRequest, DeliveryResult

__all__ = [
    "PERMANENT_RECIPIENT_CODES",
    "PROVIDER_UNAVAILABLE",
    "RECONCILE_LIMIT",
    "Accepted",
    "Ledger",
    "Prepared",
    "Provider",
    "deliver_once",
    "wall_clock",
]

log = logging.getLogger(__name__)

PROVIDER_UNAVAILABLE = "ProviderUnavailable"
"""ApplicationError type of every retryable channel failure."""

# Twilio errors that say the recipient cannot be reached this way (a result, not a fault).
PERMANENT_RECIPIENT_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
        21401,  # invalid phone number
        21407,  # this phone number type does not support SMS or MMS
        21408,  # permission to send to this region is not enabled
        21610,  # attempt to send to an unsubscribed recipient
        21612,  # the 'To' number is not currently reachable via SMS
        21614,  # 'To' number is not a valid mobile number
    }
)

RECONCILE_SLACK = timedelta(minutes=15)  # clock skew between our worker and the provider
RECONCILE_LIMIT = 200  # a borrower never gets that many messages in a reconciliation window


def wall_clock() -> datetime:
    """The only wall-clock read of the channels: when the provider was called, used to bound the
    reconciliation search in the provider's own list and to spot an attempt still in flight.
    Business instants always come from the request (the workflow clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Prepared:
    """What one attempt will send, fixed before the ledger row is written."""

    channel: Literal["sms", "voice"]
    to_number: str
    from_number: str
    body: str
    template: str | None
    locale: str
    segments: int | None = None
    encoding: str | None = None
    refusal_code: int | None = None  # refuse without calling (e.g. the borrower sent STOP)


@dataclass(frozen=True)
class Accepted:
    """The provider took it; a reconciled record also carries what happened to it since."""

    sid: str
    status: str | None
    error_code: int | None = None
    answered_by: str | None = None
    duration: int | None = None


class Provider(Protocol):
    def create(self, row: OutboundContactRow) -> Accepted: ...

    def find(
        self, row: OutboundContactRow, since: datetime, claimed: set[str]
    ) -> Accepted | None: ...


def provider_unavailable(message: str) -> ApplicationError:
    """Retryable: Temporal tries again with backoff. No PII in the message (it is not encrypted
    by the payload codec everywhere it travels)."""
    return ApplicationError(message, type=PROVIDER_UNAVAILABLE, non_retryable=False)


Verdict = Literal["refused", "not_accepted", "unknown"]


def classify_provider_error(exc: TwilioException) -> tuple[Verdict, int | None]:
    """What a provider error says about whether the message was taken."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status, code = int(exc.status), (int(exc.code) if exc.code is not None else None)
        if status in (429, 503):
            return "not_accepted", code  # rejected before processing, and it will pass
        if 400 <= status < 500:
            # Refused for good, bad credentials (401/403) included: retrying would stall the
            # account's every later moment behind this one message; the action fails with the
            # provider's code instead, and the error log says what to fix.
            return "refused", code
        return "unknown", code  # 500/502/504 can come after the provider took the message
    return "unknown", None


def never_connected(exc: requests.RequestException) -> bool:
    """Connection refused, name not resolved, connect timeout: the request never left."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


class Ledger:
    """The `outbound_contacts` rows, each change in a short transaction of its own (SQLite has
    one writer at a time; a provider call never holds a transaction open)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    def open(self, request: DeliveryRequest, prepared: Prepared) -> OutboundContactRow:
        """The attempt row for this action, created (state not_accepted: nothing called yet)
        if this is the first run."""
        for _ in range(2):
            with session_scope(self.url) as session:
                row = session.exec(self._key(request)).first()
                if row is not None:
                    return row
            try:
                with session_scope(self.url) as session:
                    row = OutboundContactRow(
                        loan_id=request.loan_id,
                        workflow_id=request.workflow_id,
                        episode=request.episode,
                        action_seq=request.action.seq,
                        channel=prepared.channel,
                        kind=request.action.kind,
                        template=prepared.template,
                        locale=prepared.locale,
                        to_number=prepared.to_number,
                        from_number=prepared.from_number,
                        body=prepared.body,
                        segments=prepared.segments,
                        encoding=prepared.encoding,
                        state=NOT_ACCEPTED,
                        requested_at=request.action.at,
                    )
                    session.add(row)
                    session.flush()
                    return row
            except IntegrityError:
                continue  # a concurrent run created it: read theirs
        raise provider_unavailable("the attempt row could not be written; retry")

    @staticmethod
    def _key(request: DeliveryRequest) -> SelectOfScalar[OutboundContactRow]:
        return select(OutboundContactRow).where(
            OutboundContactRow.workflow_id == request.workflow_id,
            OutboundContactRow.episode == request.episode,
            OutboundContactRow.action_seq == request.action.seq,
        )

    def mark_calling(self, row: OutboundContactRow, now: datetime) -> OutboundContactRow:
        """Claim the next call: only if nobody moved the row since we read it (compare-and-set
        on state and attempts), so two concurrent runs never both call."""
        with session_scope(self.url) as session:
            changed = session.exec(
                update(OutboundContactRow)
                .where(
                    col(OutboundContactRow.id) == row.id,
                    col(OutboundContactRow.state) == row.state,
                    col(OutboundContactRow.attempts) == row.attempts,
                )
                .values(
                    state=CALLING,
                    attempts=row.attempts + 1,
                    called_at=row.called_at or now,
                    last_called_at=now,
                )
            )
            if changed.rowcount != 1:
                raise provider_unavailable("another attempt of this contact is running; retry")
            fresh = session.get(OutboundContactRow, row.id)
            assert fresh is not None
            session.refresh(fresh)
            return fresh

    def record_accepted(
        self, row_id: int, accepted: Accepted, reconciled: bool = False
    ) -> OutboundContactRow:
        """The provider has it: from now on every run answers this and sends nothing.

        A reconciled record may already be final: its status callbacks came while we did not
        know the sid and were ignored, so the provider's record is copied, and a failure is
        reported in the activity's result (signal_outcome "in_result") instead of a signal.
        """
        with session_scope(self.url) as session:
            row = session.get(OutboundContactRow, row_id)
            assert row is not None
            row.state, row.provider_sid = ACCEPTED, accepted.sid
            row.reconciled = reconciled
            if row.provider_status is None or reconciled:
                row.provider_status = accepted.status
            for name in ("error_code", "answered_by"):
                if getattr(accepted, name) is not None:
                    setattr(row, name, getattr(accepted, name))
            if accepted.duration is not None:
                row.duration_seconds = accepted.duration
            if reconciled and row.provider_status in FAILED_STATUSES[row.channel]:
                row.signal_outcome = IN_RESULT
            session.add(row)
            return row

    def record_refused(self, row_id: int, code: int | None) -> OutboundContactRow:
        return self._set(row_id, state=REFUSED, error_code=code, provider_status="failed")

    def record_not_accepted(self, row_id: int) -> OutboundContactRow:
        return self._set(row_id, state=NOT_ACCEPTED)

    def _set(
        self,
        row_id: int,
        *,
        state: str,
        provider_status: str | None = None,
        error_code: int | None = None,
    ) -> OutboundContactRow:
        with session_scope(self.url) as session:
            row = session.get(OutboundContactRow, row_id)
            assert row is not None
            row.state = state
            if provider_status is not None:
                row.provider_status = provider_status
            if error_code is not None:
                row.error_code = error_code
            session.add(row)
            return row

    def claimed_sids(self, row: OutboundContactRow) -> set[str]:
        """Provider sids other rows already own: never adopt another action's message."""
        with session_scope(self.url) as session:
            sids = session.exec(
                select(OutboundContactRow.provider_sid).where(
                    OutboundContactRow.to_number == row.to_number,
                    col(OutboundContactRow.id) != row.id,
                    col(OutboundContactRow.provider_sid).is_not(None),
                )
            ).all()
        return {sid for sid in sids if sid}


def result_of(request: DeliveryRequest, row: OutboundContactRow, replayed: bool) -> DeliveryResult:
    """The DeliveryResult the ledger row stands for: `failed` when refused, or when the provider
    already reports the accepted message undelivered (known at reconciliation). The number is
    masked: it reaches the actions table that every API role can read."""
    detail: dict[str, object] = {
        "to": mask_number(row.to_number),
        "template": row.template,
        "locale": row.locale,
        "attempts": row.attempts,
        "reconciled": row.reconciled,
        "replayed": replayed,
        "provider_status": row.provider_status,
    }
    if row.segments is not None:
        detail["segments"] = row.segments
        detail["encoding"] = row.encoding
    return DeliveryResult(
        seq=request.action.seq,
        kind=request.action.kind,
        channel=row.channel,
        status=(
            "sent"
            if row.state == ACCEPTED and row.provider_status not in FAILED_STATUSES[row.channel]
            else "failed"
        ),
        provider_id=row.provider_sid,
        error_code=row.error_code,
        detail={k: v for k, v in detail.items() if v is not None},
    )


def deliver_once(
    ledger: Ledger,
    request: DeliveryRequest,
    prepared: Prepared,
    provider: Provider,
    *,
    in_flight: timedelta,
    clock: Callable[[], datetime] = wall_clock,
) -> DeliveryResult:
    """Send at most once per (workflow_id, episode, action seq); see the module docstring."""
    row = ledger.open(request, prepared)
    assert row.id is not None
    row_id = row.id
    if row.state in (ACCEPTED, REFUSED):
        return result_of(request, row, replayed=True)
    if row.state == CALLING:
        last = as_utc(row.last_called_at)
        if last is not None and clock() - last < in_flight:
            # The earlier run may still be waiting for the provider: asking now could miss its
            # message and send a second one.
            raise provider_unavailable("an earlier attempt may still be in flight; retry")
        found = _reconcile(ledger, row, provider)
        if found is not None:
            log.info(
                "%s to %s was accepted by an earlier attempt (%s): not sending again",
                row.channel,
                mask_number(row.to_number),
                found.sid,
            )
            return result_of(request, ledger.record_accepted(row_id, found, True), False)
    if prepared.refusal_code is not None:
        return result_of(request, ledger.record_refused(row_id, prepared.refusal_code), False)

    row = ledger.mark_calling(row, clock())
    try:
        accepted = provider.create(row)
    except TwilioException as exc:
        verdict, code = classify_provider_error(exc)
        if verdict == "refused":
            level = logging.ERROR if getattr(exc, "status", None) in (401, 403) else logging.INFO
            log.log(level, "%s to %s refused: %s", row.channel, mask_number(row.to_number), code)
            return result_of(request, ledger.record_refused(row_id, code), False)
        if verdict == "not_accepted":
            ledger.record_not_accepted(row_id)
        raise provider_unavailable(
            f"{row.channel} provider answered {getattr(exc, 'status', '?')} (code {code}); retry"
        ) from None
    except requests.RequestException as exc:
        if never_connected(exc):
            ledger.record_not_accepted(row_id)
            raise provider_unavailable(f"{row.channel} provider unreachable; retry") from None
        # Sent, but no answer: the provider may have taken it. The next run reconciles.
        raise provider_unavailable(
            f"{row.channel} provider did not answer ({exc.__class__.__name__}); the next "
            "attempt reconciles before sending"
        ) from None
    return result_of(request, ledger.record_accepted(row_id, accepted), False)


def _reconcile(ledger: Ledger, row: OutboundContactRow, provider: Provider) -> Accepted | None:
    first = as_utc(row.called_at)
    if first is None:  # never called: nothing to find
        return None
    try:
        return provider.find(row, first - RECONCILE_SLACK, ledger.claimed_sids(row))
    except (TwilioException, requests.RequestException) as exc:
        raise provider_unavailable(
            f"cannot reconcile with the {row.channel} provider ({exc.__class__.__name__}); retry"
        ) from None
