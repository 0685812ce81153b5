"""`GET /v1/borrowers/{borrower_id}` (CONTRACT.md v1.1 "Borrowers"): one person's loans, the
borrower holds, and how many contacts they had today and may still have, across all the loans.

The loans come from the store (the account search's summaries); the holds and the contact counts
from the borrower's contact authority (workflows/borrower.py). A borrower without an authority
(loans sent without `borrower.id`: the loan is its own borrower) shows its loan, the borrower
holds its episode reports, and null counts: it has no shared budget (its account timeline shows
its contacts).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Role
from api.deps import AccountReaderDep, TemporalClientDep
from api.errors import ApiError, ErrorEnvelope
from api.services.borrowers import borrower_view
from api.services.episodes import query_if_open
from api.services.search import MAX_LIMIT, AccountFilter, AccountSummary, search_accounts
from api.state import business_now, database_url
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
