"""What the borrower said and what reached them: `GET /v1/accounts/{loan_id}/messages`.

A reply ("I get paid on Friday", "wrong number") is the collector's best lead, so it must be one
call away for whoever works the account, next to what we sent and what the provider said about
it (delivered, undelivered, refused). Newest first, because the latest reply is what the
collector needs before dialling. Phone numbers show only their last four digits: enough to tell
the borrower's numbers apart, useless to anyone who copies the screen. Reads the store only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from api.deps import AccountReaderDep
from api.errors import ApiError
from api.services.access import collector_holds_account
from api.services.masking import mask_phone
from api.state import database_url
from store.channels import InboundMessageRow, OutboundContactRow
from store.engine import as_utc, session_scope
from store.models import AccountRow

router = APIRouter(prefix="/v1/accounts", tags=["messages"])


class Message(BaseModel):
    """One message of the account: a borrower's reply (`inbound`) or a text or call we placed
    (`outbound`) with the provider's latest status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "direction": "inbound",
                    "at": "2026-12-06T03:12:00Z",
                    "channel": "sms",
                    "number": "+*********8000",
                    "body": "I get paid on Friday",
                    "kind": "reply",
                    "keyword": None,
                    "status": "received",
                    "error_code": None,
                    "action_seq": None,
                    "template": None,
                },
                {
                    "direction": "outbound",
                    "at": "2026-12-06T02:00:00Z",
                    "channel": "sms",
                    "number": "+*********8000",
                    "body": "【还款提醒】王芳您好，…",
                    "kind": "sms_reminder",
                    "keyword": None,
                    "status": "delivered",
                    "error_code": None,
                    "action_seq": 4,
                    "template": "overdue_reminder",
                },
            ]
        }
    )

    direction: Literal["inbound", "outbound"]
    at: datetime | None
    channel: str
    number: str | None  # the borrower's number, last four digits only
    body: str | None  # the reply, or the text we sent (a call's TwiML is left out)
    kind: str  # inbound: opt_out | opt_in | help | reply; outbound: the action kind
    keyword: str | None = None
    status: str  # inbound: received; outbound: the provider's status, else our attempt state
    error_code: int | None = None
    action_seq: int | None = None
    template: str | None = None


def _inbound(row: InboundMessageRow) -> Message:
    return Message(
        direction="inbound",
        at=as_utc(row.received_at),
        channel="sms",
        number=mask_phone(row.from_number),
        body=row.body,
        kind=row.kind,
        keyword=row.keyword,
        status="received",
    )


def _outbound(row: OutboundContactRow) -> Message:
    return Message(
        direction="outbound",
        at=as_utc(row.requested_at),
        channel=row.channel,
        number=mask_phone(row.to_number),
        body=row.body if row.channel == "sms" else None,
        kind=row.kind,
        status=row.provider_status or row.state,
        error_code=row.error_code,
        action_seq=row.action_seq,
        template=row.template,
    )


@router.get(
    "/{loan_id}/messages",
    summary="The borrower's replies and our messages, newest first",
    description="Inbound replies (with their text and the keyword they were taken as) and "
    "outbound SMS and calls with the provider's latest status, newest first; phone numbers "
    "show only their last four digits. A collector reads the accounts they hold or nobody "
    "holds; supervisors and auditors read every account. Unknown loan → 404.",
    response_model=list[Message],
    dependencies=[Depends(collector_holds_account)],
)
async def list_messages(
    *,
    loan_id: str,
    request: Request,
    limit: int = Query(100, ge=1, le=500),
    _who: AccountReaderDep,
) -> list[Message]:
    def read() -> list[Message] | None:
        with session_scope(database_url(request)) as session:
            inbound = session.exec(
                select(InboundMessageRow)
                .where(InboundMessageRow.loan_id == loan_id)
                .order_by(col(InboundMessageRow.received_at).desc())
                .limit(limit)
            ).all()
            outbound = session.exec(
                select(OutboundContactRow)
                .where(OutboundContactRow.loan_id == loan_id)
                .order_by(col(OutboundContactRow.requested_at).desc())
                .limit(limit)
            ).all()
            if not inbound and not outbound and session.get(AccountRow, loan_id) is None:
                return None
            messages = [_inbound(r) for r in inbound] + [_outbound(r) for r in outbound]
        # Newest first; at the same instant a reply ranks above what we sent.
        messages.sort(
            key=lambda m: (m.at or datetime.min.replace(tzinfo=UTC), m.direction == "inbound"),
            reverse=True,
        )
        return messages[:limit]

    found = await asyncio.to_thread(read)
    if found is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return found
