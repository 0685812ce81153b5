"""The SMS channel: render the strategy's template for the borrower, send it through Twilio (or the
sandbox gateway) exactly once, and say what happened.

Synchronous on purpose: it runs in the activity thread pool, and the Twilio SDK is blocking.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import phonenumbers
from temporalio.exceptions import ApplicationError

from activities.channels.exactly_once import (
    RECONCILE_LIMIT,
    Accepted,
    Ledger,
    Prepared,
    deliver_once,
)
from activities.channels.rate import TokenBucket, process_bucket
from activities.channels.templates import MessageFacts, TemplateMissing, render_sms
from activities.channels.twilio_client import (
    HTTP_TIMEOUT_SECONDS,
    TwilioConnection,
    connect_twilio,
)
from core.settings import Settings
from store.channels import OutboundContactRow, sms_consent_revoked
from store.engine import session_scope
from workflows.contracts import DeliveryRequest, DeliveryResult, StepDetail

__all__ = ["OPTED_OUT_CODE", "SmsChannel", "normalise_number"]

log = logging.getLogger(__name__)

OPTED_OUT_CODE = 21610
"""Twilio's "unsubscribed recipient": also what we answer, without calling, for a number whose
latest keyword to us was STOP (the workflow may not have heard yet)."""


def normalise_number(number: str) -> str:
    """E.164 when the number parses; otherwise as given, and the provider says 21211."""
    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _template_of(request: DeliveryRequest) -> str:
    name = request.action.template or request.action.detail.template
    if not name:
        raise ApplicationError(
            f"action {request.action.seq} ({request.action.kind}) names no template",
            type="TemplateMissing",
            non_retryable=True,
        )
    return str(name)


class _TwilioMessages:
    """The two provider calls the ledger needs, on Twilio's Messages resource."""

    def __init__(self, twilio: TwilioConnection, limit: TokenBucket | None = None) -> None:
        self._twilio = twilio
        self._limit = limit

    def create(self, row: OutboundContactRow) -> Accepted:
        if self._limit is not None:
            self._limit.acquire()  # ARREARS_SMS_PER_SECOND
        message = self._twilio.client.messages.create(
            to=row.to_number,
            from_=row.from_number,
            body=row.body,
            status_callback=self._twilio.status_callback,
        )
        return Accepted(sid=str(message.sid), status=message.status)

    def find(self, row: OutboundContactRow, since: datetime, claimed: set[str]) -> Accepted | None:
        """Our message among the provider's messages to the number: same sender and body, created
        since the first attempt, not owned by another row. Filtered on To only, not DateSent: a
        message still queued has no date_sent yet and would be missed."""
        candidates = [
            m
            for m in self._twilio.client.messages.list(to=row.to_number, limit=RECONCILE_LIMIT)
            if m.sid not in claimed
            and (m.direction or "outbound-api").startswith("outbound")
            and (m.from_ is None or m.from_ == row.from_number)
            and (m.body or "").strip() == row.body.strip()
            and (m.date_created is None or m.date_created >= since)
        ]
        if not candidates:
            return None
        earliest = min(candidates, key=lambda m: (m.date_created or since, str(m.sid)))
        return Accepted(
            sid=str(earliest.sid), status=earliest.status, error_code=earliest.error_code
        )


class SmsChannel:
    """`send(request) -> DeliveryResult`: `sent` when the provider accepted the message, `failed`
    with Twilio's error code when it refused (21211 invalid number, 21610 unsubscribed, 21614
    not a mobile); raises a retryable ApplicationError (type ProviderUnavailable) when it could
    not tell or the provider was unavailable."""

    def __init__(
        self,
        settings: Settings,
        twilio: TwilioConnection | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._settings = settings
        self._twilio = twilio or connect_twilio(settings, timeout=timeout)
        self._ledger = Ledger(settings.effective_database_url)
        limit = process_bucket(settings.sms_per_second) if settings.sms_per_second else None
        self._provider = _TwilioMessages(self._twilio, limit)
        self._in_flight = timedelta(seconds=2 * timeout)

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def prepare(self, request: DeliveryRequest) -> Prepared:
        """The body this action sends: its template in the borrower's locale, amounts and dates
        formatted for it, the profile's opt-out instruction appended (US)."""
        if not request.target.phone:
            raise ApplicationError(
                f"action {request.action.seq} asks for an SMS but names no phone number",
                type="NoPhoneNumber",
                non_retryable=True,
            )
        name = _template_of(request)
        detail = request.action.detail
        opt_out = detail.opt_out_text if isinstance(detail, StepDetail) else None
        try:
            rendered = render_sms(
                name,
                request.target.locale,
                MessageFacts.from_request(request),
                str(opt_out) if opt_out else None,
            )
        except TemplateMissing as exc:
            raise ApplicationError(str(exc), type="TemplateMissing", non_retryable=True) from None
        to = normalise_number(request.target.phone)
        with session_scope(self._settings.effective_database_url) as session:
            revoked = sms_consent_revoked(session, to)
        return Prepared(
            channel="sms",
            to_number=to,
            from_number=self._twilio.from_number,
            body=rendered.text,
            template=name,
            locale=rendered.locale,
            segments=rendered.count.segments,
            encoding=rendered.count.encoding,
            refusal_code=OPTED_OUT_CODE if revoked else None,
        )

    def send(self, request: DeliveryRequest) -> DeliveryResult:
        return deliver_once(
            self._ledger,
            request,
            self.prepare(request),
            self._provider,
            in_flight=self._in_flight,
        )
