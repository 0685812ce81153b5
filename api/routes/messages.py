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
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import and_, col, false, or_, select, true

from api.deps import AccountReaderDep
from api.errors import ApiError
from api.services import paging
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


class _Listed(Message):
    """A message with the store row it came from: the tie-break of the listing's order."""

    row_id: int | None = None

    def key(self) -> tuple[datetime, bool, int]:
        """Newest first; at the same instant a reply ranks above what we sent; then the
        later-written row first."""
        return (
            self.at or datetime.min.replace(tzinfo=UTC),
            self.direction == "inbound",
            self.row_id or 0,
        )


def _inbound(row: InboundMessageRow) -> _Listed:
    return _Listed(
        row_id=row.id,
        direction="inbound",
        at=as_utc(row.received_at),
        channel="sms",
        number=mask_phone(row.from_number),
        body=row.body,
        kind=row.kind,
        keyword=row.keyword,
        status="received",
    )


def _outbound(row: OutboundContactRow) -> _Listed:
    return _Listed(
        row_id=row.id,
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
    "holds; supervisors and auditors read every account. More than `limit` → the next page's "
    "`cursor` in the `X-Next-Cursor` header (v1.1). Unknown loan → 404.",
    response_model=list[Message],
    dependencies=[Depends(collector_holds_account)],
)
async def list_messages(
    *,
    loan_id: str,
    request: Request,
    response: Response,
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=400, description="X-Next-Cursor of a page"),
    _who: AccountReaderDep,
) -> list[Message]:
    before = _before(cursor)

    def read() -> list[_Listed] | None:
        with session_scope(database_url(request)) as session:
            inbound_query = select(InboundMessageRow).where(InboundMessageRow.loan_id == loan_id)
            outbound_query = select(OutboundContactRow).where(OutboundContactRow.loan_id == loan_id)
            if before is not None:
                inbound_query = inbound_query.where(_inbound_before(*before))
                outbound_query = outbound_query.where(_outbound_before(*before))
            inbound = session.exec(
                inbound_query.order_by(
                    col(InboundMessageRow.received_at).desc(), col(InboundMessageRow.id).desc()
                ).limit(limit + 1)
            ).all()
            outbound = session.exec(
                outbound_query.order_by(
                    col(OutboundContactRow.requested_at).desc(), col(OutboundContactRow.id).desc()
                ).limit(limit + 1)
            ).all()
            if not inbound and not outbound and session.get(AccountRow, loan_id) is None:
                return None
            messages = [_inbound(r) for r in inbound] + [_outbound(r) for r in outbound]
        messages.sort(key=_Listed.key, reverse=True)
        return messages

    found = await asyncio.to_thread(read)
    if found is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    if len(found) > limit:
        at, inbound, row_id = found[limit - 1].key()
        position = {"at": at.isoformat(), "in": inbound, "id": row_id}
        paging.announce_next(request, response, paging.encode("messages", position))
    return [Message.model_validate(m.model_dump(exclude={"row_id"})) for m in found[:limit]]


def _before(cursor: str | None) -> tuple[datetime, bool, int] | None:
    """The (at, inbound, id) a page continues after, newest first; None without a cursor."""
    if cursor is None:
        return None
    data = paging.decode("messages", cursor)
    return paging.instant(data, "at"), paging.field(data, "in", bool), paging.field(data, "id", int)


def _inbound_before(at: datetime, inbound: bool, row_id: int) -> Any:
    """Replies after the cursor: older, or as old and (replies rank first) a lower row."""
    same = col(InboundMessageRow.received_at) == at
    later_row = col(InboundMessageRow.id) < row_id if inbound else false()
    return or_(col(InboundMessageRow.received_at) < at, and_(same, later_row))


def _outbound_before(at: datetime, inbound: bool, row_id: int) -> Any:
    """Our messages after the cursor: older, or as old and after a reply or a higher row."""
    same = col(OutboundContactRow.requested_at) == at
    after = true() if inbound else col(OutboundContactRow.id) < row_id
    return or_(col(OutboundContactRow.requested_at) < at, and_(same, after))
