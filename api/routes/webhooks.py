"""Twilio webhooks: delivery statuses of what we sent, and what borrowers send us.

No bearer key here — Twilio cannot send one. Instead every request must carry a valid
X-Twilio-Signature: HMAC-SHA1 with the account's auth token over ARREARS_PUBLIC_URL + path and the
sorted form parameters (twilio.request_validator). Anything else is 403, before anything is read.

Facts the workflow must know (a dead number, a failed delivery, consent revoked or restored, a
reply for the collector) are recorded first, then signalled to the account's workflow as
`contact_event`. The row remembers whether the signal went out, so a redelivered webhook signals
what is still owed and nothing twice; each event carries an `event_id` for the workflow to
de-duplicate the rare repeat. With no open workflow for the loan the fact is only recorded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from sqlalchemy import or_
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.datastructures import FormData
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from activities.channels.keywords import keyword_of  # one keyword list with the sandbox gateway
from api.errors import ApiError
from api.state import business_now, database_url, temporal_client
from core.settings import Settings
from store.channels import (
    FAILED_STATUSES,
    NO_ACCOUNT,
    NO_WORKFLOW,
    NOT_NEEDED,
    SIGNALLED,
    SIGNALLING,
    ConsentChangeRow,
    InboundMessageRow,
    OutboundContactRow,
    latest_locale_for_number,
    loans_for_number,
    mask_number,
)
from store.engine import session_scope
from workflows.contracts import AccountSignal, ContactEvent, ContactEventKind, workflow_id_for

router = APIRouter(prefix="/v1/webhooks/twilio", tags=["webhooks"])
log = logging.getLogger(__name__)


HELP_TEXT = {
    "zh-CN": "【帮助】本短信为贷款还款提醒。如需帮助，请拨打借款合同上的客服电话。"
    "回复STOP或TD退订。",
    "en": "Loan payment reminders from your lender. For help, call the customer service "
    "number in your loan agreement. Reply STOP to opt out.",
}

# Statuses only move forward; a late "sent" never overwrites "delivered".
MESSAGE_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
CALL_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
# Delivery errors that mean the number itself is gone (unknown handset, landline/unreachable).
DEAD_NUMBER_CODES = frozenset({30005, 30006, 21211, 21614})


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def verified_form(request: Request) -> FormData:
    """The form, if X-Twilio-Signature proves the account's auth token signed it; else 403.
    Without a configured secret (TWILIO_AUTH_TOKEN or ARREARS_SANDBOX_AUTH_TOKEN) 503: anyone can
    sign with the sandbox token in the source, so a status or an opt-out "signed" with it could
    be forged by anyone who reaches the API."""
    settings = _settings(request)
    form = await request.form()
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    token = settings.webhook_auth_token
    if token is None:
        raise ApiError(
            503,
            "webhook_secret_missing",
            "Webhook signatures cannot be checked: set TWILIO_* for real Twilio, or "
            "ARREARS_SANDBOX_AUTH_TOKEN (shared with the sandbox gateway); the sandbox token "
            "published in the source is never accepted.",
        )
    if not signature or not RequestValidator(token).validate(url, form, signature):
        raise ApiError(
            403,
            "invalid_signature",
            "The X-Twilio-Signature header is missing or does not match this request.",
        )
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


async def _signal(request: Request, loan_id: str, event: ContactEvent) -> str:
    """Tell the account's workflow; an unknown or closed workflow is not an error here."""
    try:
        client = await asyncio.wait_for(temporal_client(request), timeout=5)
        await client.get_workflow_handle(workflow_id_for(loan_id)).signal(
            AccountSignal.CONTACT_EVENT, event
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return NO_WORKFLOW
        raise ApiError(
            503, "service_unavailable", "Recorded; Temporal did not take the signal, retry."
        ) from exc
    except (TimeoutError, OSError, RuntimeError) as exc:
        raise ApiError(
            503, "service_unavailable", "Recorded; Temporal is not reachable, retry."
        ) from exc
    return SIGNALLED


# ------------------------------------------------------------------------------------ status


@dataclass(frozen=True)
class _StatusUpdate:
    channel: str
    sid: str
    status: str
    error_code: int | None
    answered_by: str | None
    duration: int | None

    @classmethod
    def from_form(cls, form: FormData) -> _StatusUpdate | None:
        if _text(form, "CallSid"):
            return cls(
                channel="voice",
                sid=_text(form, "CallSid"),
                status=_text(form, "CallStatus").lower(),
                error_code=_int(_text(form, "ErrorCode")),
                answered_by=_text(form, "AnsweredBy") or None,
                duration=_int(_text(form, "CallDuration")),
            )
        sid = _text(form, "MessageSid") or _text(form, "SmsSid")
        if not sid:
            return None
        return cls(
            channel="sms",
            sid=sid,
            status=(_text(form, "MessageStatus") or _text(form, "SmsStatus")).lower(),
            error_code=_int(_text(form, "ErrorCode")),
            answered_by=None,
            duration=None,
        )


@dataclass(frozen=True)
class _Pending:
    table: type[OutboundContactRow] | type[InboundMessageRow] | type[ConsentChangeRow]
    row_id: int
    loan_id: str
    event: ContactEvent


# A callback can overtake the sender writing the sid down (milliseconds after the provider
# answered): look again a few times before calling the sid unknown.
UNKNOWN_SID_RETRIES = (0.2, 0.5, 1.0, 1.5)


class _UnknownSid(LookupError):
    pass


def _record_status(url: str, update: _StatusUpdate, now: datetime) -> _Pending | None:
    """Apply the status (forward only); return the signal owed for a new failure, if any."""
    with session_scope(url) as session:
        row = session.exec(
            select(OutboundContactRow).where(OutboundContactRow.provider_sid == update.sid)
        ).first()
        if row is None:
            raise _UnknownSid(update.sid)
        rank = CALL_RANK if row.channel == "voice" else MESSAGE_RANK
        if update.status in rank:
            # One conditional UPDATE, not read-then-write: callbacks arrive concurrently and out
            # of order, and a late "sent" must never overwrite "undelivered".
            behind = [name for name, r in rank.items() if r < rank[update.status]]
            values: dict[str, object] = {"provider_status": update.status, "status_at": now}
            if update.error_code is not None:
                values["error_code"] = update.error_code
            if update.answered_by:
                values["answered_by"] = update.answered_by
            if update.duration is not None:
                values["duration_seconds"] = update.duration
            session.exec(
                sql_update(OutboundContactRow)
                .where(
                    col(OutboundContactRow.id) == row.id,
                    or_(
                        col(OutboundContactRow.provider_status).is_(None),
                        col(OutboundContactRow.provider_status).in_(behind),
                    ),
                )
                .values(**values)
            )
            session.refresh(row)
        if (
            row.provider_status not in FAILED_STATUSES[row.channel]
            or row.signal_outcome is not None
        ):
            return None
        assert row.id is not None and row.provider_sid is not None
        kind: ContactEventKind = (
            "number_dead" if row.error_code in DEAD_NUMBER_CODES else "delivery_failed"
        )
        event = ContactEvent(
            kind=kind,
            channel="voice" if row.channel == "voice" else "sms",
            number=row.to_number,
            at=now,
            detail={
                "event_id": f"{row.provider_sid}:{row.provider_status}",
                "provider_id": row.provider_sid,
                "status": row.provider_status,
                "error_code": row.error_code,
                "episode": row.episode,
                "action_seq": row.action_seq,
            },
        )
        return _Pending(OutboundContactRow, row.id, row.loan_id, event)


def _set_outcome(url: str, pending: _Pending, outcome: str | None, expect: str | None) -> bool:
    """Compare-and-set of signal_outcome: claims a signal (None → signalling) so concurrent
    deliveries of one webhook signal once, then records how it went."""
    table = pending.table
    with session_scope(url) as session:
        changed = session.exec(
            sql_update(table)
            .where(
                col(table.id) == pending.row_id,
                col(table.signal_outcome).is_(None)
                if expect is None
                else col(table.signal_outcome) == expect,
            )
            .values(signal_outcome=outcome)
        )
        return bool(changed.rowcount == 1)


async def _deliver_signals(request: Request, url: str, pending: list[_Pending]) -> None:
    for item in pending:
        if not await asyncio.to_thread(_set_outcome, url, item, SIGNALLING, None):
            continue  # another delivery of this webhook has it
        try:
            outcome = await _signal(request, item.loan_id, item.event)
        except BaseException:
            await asyncio.to_thread(_set_outcome, url, item, None, SIGNALLING)
            raise
        await asyncio.to_thread(_set_outcome, url, item, outcome, SIGNALLING)


@router.post(
    "/status",
    status_code=204,
    summary="Twilio status callback (messages and calls)",
    description="Signed by Twilio (X-Twilio-Signature), no API key. Records the status; an "
    "undelivered or failed message (a failed call) is signalled to the account's workflow.",
)
async def status_callback(request: Request) -> Response:
    form = await verified_form(request)
    update = _StatusUpdate.from_form(form)
    if update is None or not update.status:
        raise ApiError(422, "invalid_input", "A MessageSid or CallSid with a status is required.")
    now = await business_now(request)
    url = database_url(request)
    for delay in (0.0, *UNKNOWN_SID_RETRIES):
        await asyncio.sleep(delay)
        try:
            pending = await asyncio.to_thread(_record_status, url, update, now)
            break
        except _UnknownSid:
            continue
    else:
        # Not ours, or sent by a run that crashed before writing the sid: reconciliation copies
        # the provider's record when that action is retried.
        log.info("status %s for unknown %s %s", update.status, update.channel, update.sid)
        return Response(status_code=204)
    await _deliver_signals(request, url, [pending] if pending else [])
    return Response(status_code=204)


# ----------------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class _InboundPlan:
    kind: str
    locale: str | None
    pending: list[_Pending]


def _record_inbound(
    url: str, sid: str, sender: str, receiver: str, body: str, now: datetime
) -> _InboundPlan:
    """Store the message once (by provider sid) and say which signals are still owed."""
    kind, keyword = keyword_of(body)
    with session_scope(url) as session:
        loans = loans_for_number(session, sender)
        locale = latest_locale_for_number(session, sender)
        row = session.exec(
            select(InboundMessageRow).where(InboundMessageRow.provider_sid == sid)
        ).first()
        if row is None:
            row = InboundMessageRow(
                provider_sid=sid,
                from_number=sender,
                to_number=receiver,
                body=body,
                kind=kind,
                keyword=keyword,
                loan_id=loans[0] if loans else None,
                received_at=now,
            )
            if kind != "reply":
                row.signal_outcome = NOT_NEEDED  # consent rows carry the signals; HELP none
            elif not loans:
                row.signal_outcome = NO_ACCOUNT
            session.add(row)
            if kind in ("opt_out", "opt_in"):
                targets: list[str | None] = [*loans] or [None]
                for loan_id in targets:
                    session.add(
                        ConsentChangeRow(
                            number=sender,
                            loan_id=loan_id,
                            channel="sms",
                            granted=kind == "opt_in",
                            source="inbound_keyword",
                            keyword=keyword,
                            inbound_sid=sid,
                            at=now,
                            signal_outcome=None if loan_id else NO_ACCOUNT,
                        )
                    )
            session.flush()
        pending: list[_Pending] = []
        base = {"event_id": sid, "inbound_id": row.id, "keyword": keyword}
        if kind in ("opt_out", "opt_in"):
            changes = session.exec(
                select(ConsentChangeRow).where(
                    ConsentChangeRow.inbound_sid == sid,
                    ConsentChangeRow.signal_outcome == None,  # noqa: E711
                )
            ).all()
            event_kind: ContactEventKind = (
                "consent_revoked" if kind == "opt_out" else "consent_restored"
            )
            for change in changes:
                assert change.id is not None and change.loan_id is not None
                event = ContactEvent(
                    kind=event_kind, channel="sms", number=sender, at=now, detail=base
                )
                pending.append(_Pending(ConsentChangeRow, change.id, change.loan_id, event))
        elif kind == "reply" and row.signal_outcome is None and row.loan_id is not None:
            assert row.id is not None
            event = ContactEvent(
                kind="inbound_reply", channel="sms", number=sender, at=now, detail=base
            )
            pending.append(_Pending(InboundMessageRow, row.id, row.loan_id, event))
        return _InboundPlan(kind=kind, locale=locale, pending=pending)


def _help_text(locale: str | None) -> str:
    if locale and locale.split("-")[0] == "zh":
        return HELP_TEXT["zh-CN"]
    return HELP_TEXT["en"]


@router.post(
    "/inbound",
    summary="Twilio inbound message webhook",
    description="Signed by Twilio (X-Twilio-Signature), no API key. STOP, STOPALL, UNSUBSCRIBE, "
    "CANCEL, END, QUIT, REVOKE, OPTOUT (and TD, 退订) revoke SMS consent; START, YES, UNSTOP "
    "restore it; HELP answers the help text; anything else is attached to the account. "
    "Answers TwiML.",
    response_class=Response,
)
async def inbound_message(request: Request) -> Response:
    form = await verified_form(request)
    sid, sender = _text(form, "MessageSid") or _text(form, "SmsSid"), _text(form, "From")
    if not sid or not sender:
        raise ApiError(422, "invalid_input", "MessageSid and From are required.")
    body = str(form.get("Body") or "")
    now = await business_now(request)
    url = database_url(request)
    args = (url, sid, sender, _text(form, "To"), body, now)
    try:
        plan = await asyncio.to_thread(_record_inbound, *args)
    except IntegrityError:  # the same message delivered twice at once: the other stored it
        plan = await asyncio.to_thread(_record_inbound, *args)
    log.info("inbound %s from %s", plan.kind, mask_number(sender))
    await _deliver_signals(request, url, plan.pending)
    reply = MessagingResponse()
    if plan.kind == "help":
        reply.message(_help_text(plan.locale))
    return Response(content=str(reply), media_type="application/xml")
