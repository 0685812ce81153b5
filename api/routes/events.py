"""The loan system's feed of business facts (CONTRACT.md v1.1 `GET /v1/events`): what the
webhook also delivers, for a loan system that would rather read than receive, or that catches
up after an outage. Reads the store's event log only (store/events.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import LoanSystemDep
from api.errors import ApiError
from api.state import database_url
from domain.vocabulary import ErrorCode
from store.engine import as_utc, session_scope
from store.events import event_exists, events_after

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_LIMIT = 500
MAX_EVENT_ID = 2**63 - 1  # the column's range (BIGINT); beyond it no event can exist


_EXAMPLE_EVENT: dict[str, Any] = {
    "id": 1041,
    "at": "2026-12-05T02:31:00Z",
    "loan_id": "L-1001",
    "type": "payment.applied",
    "data": {"payment_id": "PAY-20261205-000183", "amount": "600.00"},
}


class Event(BaseModel):
    """One business fact; `id` orders them (the `after` of the next page)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_EVENT]})

    id: int
    at: datetime
    loan_id: str
    type: str
    data: dict[str, Any]


class EventsPage(BaseModel):
    """One page of the event log, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXAMPLE_EVENT], "next_cursor": 1041}]}
    )

    items: list[Event]
    next_cursor: int | None = Field(
        description="the last id of this page: pass it as `after`; null when nothing is new"
    )


def _page(url: str, after: int, limit: int) -> EventsPage:
    with session_scope(url) as session:
        if after and not event_exists(session, after):
            raise ApiError(
                422,
                ErrorCode.INVALID_INPUT,
                f"No event {after}: `after` is the id of the last event you read, or 0 to "
                "start from the beginning.",
                {"after": after},
            )
        page = events_after(session, after, limit)
        return EventsPage(
            items=[
                Event(
                    id=row.id or 0,
                    at=as_utc(row.at) or row.at,
                    loan_id=row.loan_id,
                    type=row.type,
                    data=row.data,
                )
                for row in page.items
            ],
            next_cursor=page.next_cursor,
        )


@router.get(
    "",
    summary="Read the event log",
    description="Business facts in order (`account.opened`, `payment.applied`, "
    "`promise.broken`, ...), each recorded once in the transaction of the moment that made it. "
    "`after` is the id of the last event read (0: from the beginning); an id that does not exist "
    "→ 422. Loan-system key only.",
)
async def list_events(
    request: Request,
    _who: LoanSystemDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_EVENT_ID, description="the last id read; 0 for the first page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventsPage:
    return await asyncio.to_thread(_page, database_url(request), after, limit)
