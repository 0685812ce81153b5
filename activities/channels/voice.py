"""The voice channel: an automated reminder call whose TwiML comes from the strategy's voice
template, with answering-machine detection on so the status callback says who (or what)
answered. Exactly once like SMS: a retried activity never rings the borrower twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.exceptions import ApplicationError

from activities.channels.exactly_once import (
    RECONCILE_LIMIT,
    Accepted,
    Ledger,
    Prepared,
    deliver_once,
)
from activities.channels.sms import normalise_number
from activities.channels.templates import MessageFacts, TemplateMissing, render_voice
from activities.channels.twilio_client import (
    HTTP_TIMEOUT_SECONDS,
    TwilioConnection,
    connect_twilio,
)
from core.settings import Settings
from store.channels import OutboundContactRow
from workflows.contracts import DeliveryRequest, DeliveryResult

__all__ = ["MACHINE_DETECTION", "VoiceChannel"]

MACHINE_DETECTION = "Enable"
"""Twilio answering-machine detection: `AnsweredBy` (human, machine_start, fax, unknown) arrives
with the call's status callback; a voicemail is not a right-party contact."""


class _TwilioCalls:
    def __init__(self, twilio: TwilioConnection) -> None:
        self._twilio = twilio

    def create(self, row: OutboundContactRow) -> Accepted:
        call = self._twilio.client.calls.create(
            to=row.to_number,
            from_=row.from_number,
            twiml=row.body,
            machine_detection=MACHINE_DETECTION,
            status_callback=self._twilio.status_callback,
        )
        return Accepted(sid=str(call.sid), status=call.status)

    def find(self, row: OutboundContactRow, since: datetime, claimed: set[str]) -> Accepted | None:
        """A call from our number to theirs since the first attempt that no other row owns (the
        call resource does not echo the TwiML, so sender, recipient and time are what we have)."""
        candidates = [
            c
            for c in self._twilio.client.calls.list(to=row.to_number, limit=RECONCILE_LIMIT)
            if c.sid not in claimed
            and (c._from is None or c._from == row.from_number)
            and (c.date_created is None or c.date_created >= since)
        ]
        if not candidates:
            return None
        earliest = min(candidates, key=lambda c: (c.date_created or since, str(c.sid)))
        return Accepted(
            sid=str(earliest.sid),
            status=earliest.status,
            answered_by=earliest.answered_by,
            duration=int(earliest.duration) if earliest.duration else None,
        )


class VoiceChannel:
    """`send(request) -> DeliveryResult`: `sent` when the provider queued the call (its outcome
    arrives later at the status webhook), `failed` with the error code when it refused."""

    def __init__(
        self,
        settings: Settings,
        twilio: TwilioConnection | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._twilio = twilio or connect_twilio(settings, timeout=timeout)
        self._ledger = Ledger(settings.effective_database_url)
        self._provider = _TwilioCalls(self._twilio)
        self._in_flight = timedelta(seconds=2 * timeout)

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def prepare(self, request: DeliveryRequest) -> Prepared:
        if not request.target.phone:
            raise ApplicationError(
                f"action {request.action.seq} asks for a call but names no phone number",
                type="NoPhoneNumber",
                non_retryable=True,
            )
        name = request.action.template or request.action.detail.template
        if not name:
            raise ApplicationError(
                f"action {request.action.seq} ({request.action.kind}) names no template",
                type="TemplateMissing",
                non_retryable=True,
            )
        try:
            rendered = render_voice(
                str(name), request.target.locale, MessageFacts.from_request(request)
            )
        except TemplateMissing as exc:
            raise ApplicationError(str(exc), type="TemplateMissing", non_retryable=True) from None
        return Prepared(
            channel="voice",
            to_number=normalise_number(request.target.phone),
            from_number=self._twilio.from_number,
            body=rendered.twiml,
            template=str(name),
            locale=rendered.locale,
        )

    def send(self, request: DeliveryRequest) -> DeliveryResult:
        return deliver_once(
            self._ledger,
            request,
            self.prepare(request),
            self._provider,
            in_flight=self._in_flight,
        )
