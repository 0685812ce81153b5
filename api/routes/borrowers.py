"""`GET /v1/borrowers/{borrower_id}` (CONTRACT.md v1.1 "Borrowers"): one person's loans, the
borrower holds, and how many contacts they had today and may still have, across all the loans;
and `.../timeline`, every loan's explained timeline merged into the borrower's one story.

The loans come from the store (the account search's summaries); the holds and the contact counts
from the borrower's contact authority (workflows/borrower.py). A borrower without an authority
(loans sent without `borrower.id`: the loan is its own borrower) shows its loan, the borrower
holds its episode reports, and null counts: it has no shared budget (its account timeline shows
its contacts).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Role
from api.deps import AccountReaderDep, TemporalClientDep, TimelineReaderDep
from api.errors import ApiError, ErrorEnvelope
from api.services.borrowers import borrower_view
from api.services.episodes import query_if_open
from api.services.search import MAX_LIMIT, AccountFilter, AccountSummary, search_accounts
from api.state import business_now, database_url, require_temporal
from audit.timeline import build_timeline
from audit.timeline.entries import TimelineEntry
from domain.contact.borrower import BORROWER_HOLDS
from domain.vocabulary import ErrorCode
from workflows.contracts import HoldView

router = APIRouter(prefix="/v1/borrowers", tags=["borrowers"])

_EXAMPLE: dict[str, Any] = {
    "borrower_id": "B-77",
    "loans": [],
    "holds": [],
    "contacts_today": 2,
    "contacts_left": {"cn.connected_calls_per_day": 1},
}


class BorrowerOut(BaseModel):
    """The borrower across their loans."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    borrower_id: str
    loans: list[AccountSummary]
    holds: list[HoldView] = Field(
        description="the borrower holds open now (bankruptcy, deceased, attorney, "
        "cease_communication): they hold every loan"
    )
    contacts_today: int | None = Field(
        description="contacts made today (borrower's zone) across all loans; null for a loan "
        "sent without borrower.id"
    )
    contacts_left: dict[str, int] | None = Field(
        description="per cap of the contact profile that counts the person: how many more "
        "contacts it allows in its period ending today; null without borrower.id"
    )


@router.get(
    "/{borrower_id}",
    response_model=BorrowerOut,
    responses={
        404: {"model": ErrorEnvelope, "description": "No account was sent with this borrower id."}
    },
)
async def get_borrower(
    request: Request,
    who: AccountReaderDep,
    client: TemporalClientDep,
    borrower_id: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$"),
) -> BorrowerOut:
    """Any staff role; a collector sees the loans they hold or that nobody holds."""
    where = AccountFilter(
        borrower_id=borrower_id, viewer=who.user if who.role == Role.COLLECTOR else None
    )
    page = await asyncio.to_thread(search_accounts, database_url(request), where, None, MAX_LIMIT)
    view = await borrower_view(client, borrower_id, await business_now(request))
    if view is None and not page.items:
        raise ApiError(
            404,
            ErrorCode.NOT_FOUND,
            f"No borrower {borrower_id}: no account was sent with this borrower id.",
            {"borrower_id": borrower_id},
        )
    if view is not None:
        return BorrowerOut(
            borrower_id=borrower_id,
            loans=page.items,
            holds=[HoldView(kind=h.kind, since=h.since, until=h.until) for h in view.holds],
            contacts_today=view.contacts_today,
            contacts_left=view.contacts_left,
        )
    holds: list[HoldView] = []
    for loan in page.items:
        # An ended episode holds nothing (and may be gone from Temporal).
        status = await query_if_open(client, loan.loan_id, await business_now(request), True)
        if status is not None:
            holds += [h for h in status.holds if h.kind in BORROWER_HOLDS and h.until is None]
    return BorrowerOut(
        borrower_id=borrower_id,
        loans=page.items,
        holds=holds,
        contacts_today=None,
        contacts_left=None,
    )


_EXAMPLE_ENTRY: dict[str, Any] = {
    "at": "2026-12-02T02:00:00Z",
    "kind": "contact_blocked",
    "summary": "call task held back",
    "reason": "the borrower's other loans: cn.connected_calls_per_day",
    "rule": "borrower.cn.connected_calls_per_day",
    "strategy": "default@1",
    "inputs": {"dpd": 2, "bucket": "M1"},
    "source": "store",
    "ref": "7",
    "loan_id": "L-1002",
}


class BorrowerTimelineEntry(TimelineEntry):
    """An entry of one loan's timeline, naming the loan."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_ENTRY]})

    loan_id: str


class BorrowerTimeline(BaseModel):
    """Every loan's timeline, merged in time order: the borrower's one story."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "borrower_id": "B-77",
                    "loans": ["L-1001", "L-1002"],
                    "history": "complete",
                    "entries": [_EXAMPLE_ENTRY],
                }
            ]
        }
    )

    borrower_id: str
    loans: list[str]
    history: Literal["complete", "unavailable"] = Field(
        description="`unavailable` when a loan's workflow history could not be read (its "
        "entries are the store's part only)"
    )
    entries: list[BorrowerTimelineEntry]


@router.get(
    "/{borrower_id}/timeline",
    response_model=BorrowerTimeline,
    summary="What was done to the borrower across all their loans, when, and why",
    description="Each loan's explained timeline (`GET /v1/accounts/{loan_id}/timeline`), merged "
    "in time order, each entry naming its `loan_id`. Auditors and supervisors read every loan; a "
    "collector the loans they hold or nobody holds.",
    responses={
        404: {"model": ErrorEnvelope, "description": "No account was sent with this borrower id."}
    },
)
async def get_borrower_timeline(
    request: Request,
    who: TimelineReaderDep,
    borrower_id: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$"),
) -> BorrowerTimeline:
    where = AccountFilter(
        borrower_id=borrower_id, viewer=who.user if who.role == Role.COLLECTOR else None
    )
    page = await asyncio.to_thread(search_accounts, database_url(request), where, None, MAX_LIMIT)
    if not page.items:
        raise ApiError(
            404,
            ErrorCode.NOT_FOUND,
            f"No borrower {borrower_id}: no account you may read was sent with this borrower id.",
            {"borrower_id": borrower_id},
        )
    # Without Temporal the store's part is still an answer, as for one account.
    try:
        client = await require_temporal(request)
    except ApiError:
        client = None
    entries: list[BorrowerTimelineEntry] = []
    history: Literal["complete", "unavailable"] = "complete"
    for loan in page.items:
        timeline = await build_timeline(client, database_url(request), loan.loan_id)
        if timeline is None:
            continue
        if timeline.history == "unavailable":
            history = "unavailable"
        entries += [
            BorrowerTimelineEntry(**entry.model_dump(), loan_id=loan.loan_id)
            for entry in timeline.entries
        ]
    entries.sort(key=lambda e: (e.at, e.loan_id))
    return BorrowerTimeline(
        borrower_id=borrower_id,
        loans=[loan.loan_id for loan in page.items],
        history=history,
        entries=entries,
    )
