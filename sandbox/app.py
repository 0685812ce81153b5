"""The sandbox gateway: the part of Twilio's REST API arrears uses, as a local service.

When no Twilio credentials are set, the Twilio SDK talks to this instead of api.twilio.com
(activities/channels/twilio_client.py). It answers like Twilio — the same JSON resources, the same
error bodies and codes, HTTP basic auth with the account SID and token — then plays the message's
or call's life out: status callbacks (`sent`, then `delivered`, `undelivered` or `failed`; a
call's final status with `AnsweredBy`) posted form-encoded and signed with X-Twilio-Signature to
the StatusCallback URL, as Twilio does. What happens to a number is deterministic
(sandbox/numbers.py documents the reserved test numbers).

For tests and demos it adds what Twilio has only in its console:
- `GET /sandbox/outbox` — every SMS and call sent, with status and the callbacks delivered;
- `GET /sandbox/in-flight` — how many messages, calls and callbacks are still playing out (virtual
  time moves on only once this is 0: docs/virtual-time.md);
- `POST /sandbox/inbound {"from", "body"}` — the borrower replies: a signed inbound webhook goes to
  our API (ARREARS_PUBLIC_URL + /v1/webhooks/twilio/inbound), and STOP-type keywords block further
  SMS to that number with 21610 until START, as Twilio's opt-out handling does;
- `POST /sandbox/faults {"kind", "count", "seconds"}` — the next `count` creates fail before
  accepting (`reject_429`, `reject_500`, `reject_503`), take `seconds` before accepting
  (`slow_accept`: the request is in flight, the provider has nothing yet), or are accepted but
  answered only after `seconds` (`slow_answer`: the client times out although the message went
  out).

The outbox lives in memory: restarting the gateway empties it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from activities.channels.keywords import twilio_keyword_of
from activities.channels.segments import count_segments
from core.settings import Settings
from sandbox.events import EventReceiver, event_receiver_router
from sandbox.numbers import (
    call_fate,
    call_refusal,
    sms_fate,
    sms_refusal,
)

__all__ = ["INBOUND_PATH", "GatewayConfig", "Gateway", "create_gateway_app"]

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
INBOUND_PATH = "/v1/webhooks/twilio/inbound"
MAX_BODY = 1600


@dataclass(frozen=True)
class GatewayConfig:
    account_sid: str
    auth_token: str
    public_url: str  # our API: where inbound webhooks go
    from_number: str  # the number borrowers reply to
    callback_delay: float = 0.3  # seconds between a message's status changes
    events_secret: str | None = None  # what the events receiver checks signatures with
    # False where nobody serves the StatusCallback URL (the simulator, the workflow tests): the
    # statuses still play out in the outbox, but no request is made only to fail to connect.
    status_callbacks: bool = True

    @classmethod
    def from_settings(
        cls, settings: Settings, callback_delay: float = 0.3, status_callbacks: bool = True
    ) -> GatewayConfig:
        account_sid, token, from_number = settings.twilio_account
        return cls(
            account_sid,
            token,
            settings.public_url.rstrip("/"),
            from_number,
            callback_delay,
            events_secret=settings.webhook_secret_value,
            status_callbacks=status_callbacks,
        )


def _now() -> datetime:
    """The gateway is the provider: its timestamps are its own wall clock, as Twilio's are."""
    return datetime.now(UTC)


def _rfc2822(instant: datetime | None) -> str | None:
    return format_datetime(instant) if instant else None  # "Wed, 18 Aug 2010 20:01:40 +0000"


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


class TwilioApiError(Exception):
    """Answered as Twilio's error body: {code, message, more_info, status}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class OutMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    num_segments: int
    date_created: datetime
    seq: int
    direction: str = "outbound-api"
    status: str = "queued"
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    error_code: int | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": _rfc2822(self.date_updated or self.date_created),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": self.to,
            "uri": f"{base}.json",
        }

    def view(self) -> dict[str, Any]:
        return {
            "kind": "sms",
            "sid": self.sid,
            "direction": self.direction,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "segments": self.num_segments,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": _iso(self.date_created),
            "sent_at": _iso(self.date_sent),
            "callbacks": list(self.callbacks),
        }


@dataclass
class OutCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    twiml: str | None
    url: str | None
    machine_detection: bool
    status_callback: str | None
    events: frozenset[str]
    date_created: datetime
    seq: int
    status: str = "queued"
    answered_by: str | None = None
    duration: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    date_updated: datetime | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": _rfc2822(self.date_created),
            "date_updated": _rfc2822(self.date_updated or self.date_created),
            "direction": "outbound-api",
            "duration": str(self.duration) if self.duration is not None else None,
            "end_time": _rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": _rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {},
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }

    def view(self) -> dict[str, Any]:
        return {
            "kind": "call",
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "twiml": self.twiml,
            "url": self.url,
            "machine_detection": self.machine_detection,
            "status": self.status,
            "answered_by": self.answered_by,
            "duration": self.duration,
            "created_at": _iso(self.date_created),
            "callbacks": list(self.callbacks),
        }


@dataclass
class Fault:
    kind: str
    remaining: int
    seconds: float = 0.0


class FaultIn(BaseModel):
    kind: Literal["reject_429", "reject_500", "reject_503", "slow_accept", "slow_answer"]
    count: int = Field(default=1, ge=1, le=100)
    seconds: float = Field(default=0.0, ge=0, le=120)


class InboundIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=2, max_length=32)
    body: str = Field(max_length=MAX_BODY)
    to: str | None = None


REJECTIONS = {
    "reject_429": (429, 20429, "Too Many Requests"),
    "reject_500": (500, 20500, "Internal Server Error"),
    "reject_503": (503, 20503, "Service Unavailable"),
}


class Gateway:
    """The gateway's state: outbox, inbox, opted-out numbers, pending faults, callback tasks."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.messages: list[OutMessage] = []
        self.calls: list[OutCall] = []
        self.opted_out: set[str] = set()
        self.faults: list[Fault] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = itertools.count(1)
        self._validator = RequestValidator(config.auth_token)
        # One client for every callback and inbound webhook, made on first use (inside the
        # serving event loop): a client per callback built a fresh TLS context each time, about
        # 26 ms of CPU, twice per SMS (issue 19).
        self._client: httpx.AsyncClient | None = None

    def next_seq(self) -> int:
        return next(self._seq)

    # ------------------------------------------------------------------ auth and faults

    def authenticate(self, request: Request, account_sid: str | None = None) -> None:
        """Basic auth with the account SID and auth token, as Twilio's REST API asks."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        good = hmac.compare_digest(user, self.config.account_sid) and hmac.compare_digest(
            password, self.config.auth_token
        )
        if scheme.lower() != "basic" or not good:
            raise TwilioApiError(401, 20003, "Authenticate")
        if account_sid is not None and account_sid != self.config.account_sid:
            raise TwilioApiError(
                404, 20404, f"The requested resource /Accounts/{account_sid} was not found"
            )

    def take_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.pop(0)
        return fault

    # ------------------------------------------------------------------ callbacks

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        """Messages and calls still playing out at the "carrier" and callbacks not yet answered."""
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=15)
        return self._client

    async def post_signed(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """POST form-encoded with X-Twilio-Signature over the URL and the sorted params."""
        signature = self._validator.compute_signature(url, params)
        try:
            response = await self._http().post(
                url, data=params, headers={"X-Twilio-Signature": signature}
            )
        except httpx.HTTPError as exc:
            log.warning("webhook %s failed: %s", url, exc.__class__.__name__)
            return {"url": url, "http_status": None, "error": exc.__class__.__name__}
        return {"url": url, "http_status": response.status_code, "response": response.text}

    async def play_message(self, message: OutMessage) -> None:
        """The message's life at the carrier. Callbacks go out on their own tasks: like Twilio's,
        they neither wait for our webhook to answer nor arrive in a guaranteed order."""
        fate = sms_fate(message.to)
        await asyncio.sleep(self.config.callback_delay)
        message.status, message.date_sent = "sent", _now()
        message.date_updated = message.date_sent
        if self._notifies(message.status_callback):
            self.spawn(self._notify_message(message, self._message_params(message)))
        await asyncio.sleep(self.config.callback_delay)
        message.status, message.error_code = fate.final_status, fate.error_code
        message.date_updated = _now()
        if self._notifies(message.status_callback):
            self.spawn(self._notify_message(message, self._message_params(message)))

    def _notifies(self, status_callback: str | None) -> bool:
        return bool(status_callback) and self.config.status_callbacks

    async def _notify_message(self, message: OutMessage, params: dict[str, str]) -> None:
        if not message.status_callback:
            return
        result = await self.post_signed(message.status_callback, params)
        message.callbacks.append({"status": params["MessageStatus"], **result})

    @staticmethod
    def _message_params(message: OutMessage) -> dict[str, str]:
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "To": message.to,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": message.status,
            "SmsStatus": message.status,
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        return params

    async def play_call(self, call: OutCall) -> None:
        fate = call_fate(call.to, call.machine_detection)
        steps: list[str] = ["initiated", "ringing"]
        if fate.final_status == "completed":
            steps.append("in-progress")
        for step in steps:
            await asyncio.sleep(self.config.callback_delay)
            call.status, call.date_updated = step, _now()
            if step == "in-progress":
                call.start_time = call.date_updated
            event = "answered" if step == "in-progress" else step
            if event in call.events and self._notifies(call.status_callback):
                self.spawn(self._notify_call(call, self._call_params(call, final=False)))
        await asyncio.sleep(self.config.callback_delay)
        call.status, call.date_updated, call.end_time = fate.final_status, _now(), _now()
        call.answered_by = fate.answered_by
        call.duration = fate.duration
        if self._notifies(call.status_callback):
            self.spawn(self._notify_call(call, self._call_params(call, final=True)))

    async def _notify_call(self, call: OutCall, params: dict[str, str]) -> None:
        if not call.status_callback:
            return
        result = await self.post_signed(call.status_callback, params)
        call.callbacks.append({"status": params["CallStatus"], **result})

    @staticmethod
    def _call_params(call: OutCall, final: bool) -> dict[str, str]:
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
            "Timestamp": _rfc2822(call.date_updated) or "",
            "CallbackSource": "call-progress-events",
        }
        if final:
            params["CallDuration"] = str(call.duration or 0)
            params["Duration"] = str(((call.duration or 0) + 59) // 60)
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        return params


def _twilio_error(exc: TwilioApiError) -> JSONResponse:
    return JSONResponse(
        {
            "code": exc.code,
            "message": exc.message,
            "more_info": f"https://www.twilio.com/docs/errors/{exc.code}",
            "status": exc.status,
        },
        status_code=exc.status,
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date_filter(value: str) -> date | datetime:
    """DateSent filters come as `YYYY-MM-DD` (Twilio docs) or `YYYY-MM-DDTHH:MM:SSZ` (the SDK)."""
    try:
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return date.fromisoformat(value)
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid DateSent filter: {value}") from None


def _sent_matches(sent: datetime | None, op: str, bound: date | datetime) -> bool:
    if sent is None:
        return False  # like Twilio: a message not yet sent has no date_sent to filter on
    value: date | datetime = sent if isinstance(bound, datetime) else sent.date()
    if op == "=":
        return value == bound
    if op == ">":
        return value >= bound
    return value <= bound


def _page(
    request: Request, items: list[dict[str, Any]], key: str, filters: dict[str, str]
) -> dict[str, Any]:
    query = request.query_params
    try:
        size = max(1, min(1000, int(query.get("PageSize", "50"))))
        page = max(0, int(query.get("Page", "0")))
    except ValueError:
        raise TwilioApiError(400, 20001, "Invalid paging parameter") from None
    start = page * size
    chunk = items[start : start + size]
    path = request.url.path

    def uri(number: int) -> str:
        return f"{path}?" + urlencode(
            {**filters, "PageSize": size, "Page": number, "PageToken": f"PA{number * size}"}
        )

    return {
        key: chunk,
        "start": start,
        "end": start + max(len(chunk) - 1, 0),
        "page": page,
        "page_size": size,
        "uri": uri(page),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + size < len(items) else None,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
    }


def create_gateway_app(config: GatewayConfig) -> FastAPI:
    """The gateway as an ASGI app (`arrears sandbox` serves it; tests run it in-process)."""
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.close()

    app = FastAPI(
        title="arrears sandbox gateway",
        description=__doc__,
        version="1",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.events = EventReceiver(config.events_secret)
    app.include_router(event_receiver_router(app.state.events))

    @app.exception_handler(TwilioApiError)
    async def _error(_request: Request, exc: TwilioApiError) -> JSONResponse:
        return _twilio_error(exc)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    prefix = f"/{API_VERSION}/Accounts/{{account_sid}}"

    @app.post(prefix + "/Messages.json", status_code=201)
    async def create_message(account_sid: str, request: Request) -> JSONResponse:
        gateway.authenticate(request, account_sid)
        form = await request.form()
        to, from_, body = _field(form, "To"), _field(form, "From"), str(form.get("Body") or "")
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not from_:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if not body.strip():
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        fault = gateway.take_fault()
        if fault is not None and fault.kind in REJECTIONS:
            raise TwilioApiError(*REJECTIONS[fault.kind])
        if fault is not None and fault.kind == "slow_accept":
            await asyncio.sleep(fault.seconds)
        refusal = sms_refusal(to, gateway.opted_out)
        if refusal is not None:
            raise TwilioApiError(refusal.status, refusal.code, refusal.message)
        message = OutMessage(
            sid="SM" + uuid.uuid4().hex,
            account_sid=account_sid,
            to=to,
            from_=from_,
            body=body,
            status_callback=_field(form, "StatusCallback") or None,
            num_segments=count_segments(body).segments,
            date_created=_now(),
            seq=gateway.next_seq(),
        )
        gateway.messages.append(message)
        gateway.spawn(gateway.play_message(message))
        if fault is not None and fault.kind == "slow_answer":
            await asyncio.sleep(fault.seconds)  # accepted, but the client gives up first
        return JSONResponse(message.resource(), status_code=201)

    @app.get(prefix + "/Messages.json")
    async def list_messages(account_sid: str, request: Request) -> dict[str, Any]:
        gateway.authenticate(request, account_sid)
        query = request.query_params
        filters = {k: v for k, v in query.items() if k in ("To", "From") or k.startswith("Date")}
        found = [m for m in gateway.messages if m.account_sid == account_sid]
        if "To" in query:
            found = [m for m in found if m.to == query["To"]]
        if "From" in query:
            found = [m for m in found if m.from_ == query["From"]]
        for name, op in (("DateSent", "="), ("DateSent>", ">"), ("DateSent<", "<")):
            if name in query:
                bound = _date_filter(query[name])
                found = [m for m in found if _sent_matches(m.date_sent, op, bound)]
        found.sort(key=lambda m: (m.date_created, m.seq), reverse=True)
        return _page(request, [m.resource() for m in found], "messages", filters)

    @app.get(prefix + "/Messages/{sid}.json")
    async def fetch_message(account_sid: str, sid: str, request: Request) -> dict[str, Any]:
        gateway.authenticate(request, account_sid)
        for message in gateway.messages:
            if message.sid == sid:
                return message.resource()
        raise TwilioApiError(404, 20404, f"The requested resource {request.url.path} was not found")

    @app.post(prefix + "/Calls.json", status_code=201)
    async def create_call(account_sid: str, request: Request) -> JSONResponse:
        gateway.authenticate(request, account_sid)
        form = await request.form()
        to, from_ = _field(form, "To"), _field(form, "From")
        twiml, url = _field(form, "Twiml") or None, _field(form, "Url") or None
        if not to:
            raise TwilioApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise TwilioApiError(400, 21213, "No 'From' number is specified")
        if not twiml and not url:
            raise TwilioApiError(400, 21205, "Url parameter is required.")
        fault = gateway.take_fault()
        if fault is not None and fault.kind in REJECTIONS:
            raise TwilioApiError(*REJECTIONS[fault.kind])
        if fault is not None and fault.kind == "slow_accept":
            await asyncio.sleep(fault.seconds)
        refusal = call_refusal(to)
        if refusal is not None:
            raise TwilioApiError(refusal.status, refusal.code, refusal.message)
        events = {
            event.lower()
            for value in form.getlist("StatusCallbackEvent")
            if isinstance(value, str)
            for event in value.split()
        }
        call = OutCall(
            sid="CA" + uuid.uuid4().hex,
            account_sid=account_sid,
            to=to,
            from_=from_,
            twiml=twiml,
            url=url,
            machine_detection=_field(form, "MachineDetection") in ("Enable", "DetectMessageEnd"),
            status_callback=_field(form, "StatusCallback") or None,
            events=frozenset(events or {"completed"}),
            date_created=_now(),
            seq=gateway.next_seq(),
        )
        gateway.calls.append(call)
        gateway.spawn(gateway.play_call(call))
        if fault is not None and fault.kind == "slow_answer":
            await asyncio.sleep(fault.seconds)
        return JSONResponse(call.resource(), status_code=201)

    @app.get(prefix + "/Calls.json")
    async def list_calls(account_sid: str, request: Request) -> dict[str, Any]:
        gateway.authenticate(request, account_sid)
        query = request.query_params
        filters = {k: v for k, v in query.items() if k in ("To", "From")}
        found = [c for c in gateway.calls if c.account_sid == account_sid]
        if "To" in query:
            found = [c for c in found if c.to == query["To"]]
        if "From" in query:
            found = [c for c in found if c.from_ == query["From"]]
        found.sort(key=lambda c: (c.date_created, c.seq), reverse=True)
        return _page(request, [c.resource() for c in found], "calls", filters)

    @app.get(prefix + "/Calls/{sid}.json")
    async def fetch_call(account_sid: str, sid: str, request: Request) -> dict[str, Any]:
        gateway.authenticate(request, account_sid)
        for call in gateway.calls:
            if call.sid == sid:
                return call.resource()
        raise TwilioApiError(404, 20404, f"The requested resource {request.url.path} was not found")

    # ------------------------------------------------------------------ sandbox-only

    @app.get("/sandbox/outbox")
    async def outbox(request: Request, to: str | None = None) -> dict[str, Any]:
        """Everything sent (and received), oldest first; `to` narrows to one borrower number."""
        gateway.authenticate(request)
        messages = [m for m in gateway.messages if to is None or to in (m.to, m.from_)]
        calls = [c for c in gateway.calls if to is None or c.to == to]
        return {
            "messages": [m.view() for m in messages if m.direction != "inbound"],
            "calls": [c.view() for c in calls],
            "inbound": [m.view() for m in messages if m.direction == "inbound"],
            "opted_out": sorted(gateway.opted_out),
        }

    @app.get("/sandbox/in-flight")
    async def in_flight(request: Request) -> dict[str, int]:
        """Messages, calls and callbacks still playing out: 0 when the gateway has settled."""
        gateway.authenticate(request)
        return {"in_flight": gateway.in_flight}

    @app.post("/sandbox/inbound")
    async def inbound(payload: InboundIn, request: Request) -> dict[str, Any]:
        """A borrower's reply: Twilio's opt-out handling first, then our inbound webhook."""
        gateway.authenticate(request)
        kind, _keyword = twilio_keyword_of(payload.body)
        params_extra: dict[str, str] = {}
        if kind == "opt_out":
            gateway.opted_out.add(payload.from_)
            params_extra["OptOutType"] = "STOP"
        elif kind == "opt_in":
            gateway.opted_out.discard(payload.from_)
            params_extra["OptOutType"] = "START"
        elif kind == "help":
            params_extra["OptOutType"] = "HELP"
        message = OutMessage(
            sid="SM" + uuid.uuid4().hex,
            account_sid=config.account_sid,
            to=payload.to or config.from_number,
            from_=payload.from_,
            body=payload.body,
            status_callback=None,
            num_segments=count_segments(payload.body).segments,
            date_created=_now(),
            seq=gateway.next_seq(),
            direction="inbound",
            status="received",
        )
        message.date_sent = message.date_created
        gateway.messages.append(message)
        params = {
            "AccountSid": config.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsMessageSid": message.sid,
            "SmsStatus": "received",
            "From": message.from_,
            "To": message.to,
            "Body": message.body,
            "NumMedia": "0",
            "NumSegments": str(message.num_segments),
            **params_extra,
        }
        result = await gateway.post_signed(config.public_url + INBOUND_PATH, params)
        message.callbacks.append({"status": "received", **result})
        return {
            "sid": message.sid,
            "from": message.from_,
            "to": message.to,
            "opted_out": message.from_ in gateway.opted_out,
            "webhook": result,
        }

    @app.post("/sandbox/faults", status_code=201)
    async def add_fault(payload: FaultIn, request: Request) -> dict[str, Any]:
        gateway.authenticate(request)
        gateway.faults.append(Fault(payload.kind, payload.count, payload.seconds))
        return {"pending": [f.__dict__ for f in gateway.faults]}

    @app.delete("/sandbox/faults")
    async def clear_faults(request: Request) -> dict[str, Any]:
        gateway.authenticate(request)
        gateway.faults.clear()
        return {"pending": []}

    return app
