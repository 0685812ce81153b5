"""The desk's borrower page (issues 12 and 15): one person across all their loans.

It shows what `GET /v1/borrowers/{borrower_id}` answers (the loans with state, DPD, bucket,
amount overdue and holder; the borrower holds; contacts today and contacts left) and the
borrower's one story, `GET /v1/borrowers/{borrower_id}/timeline`, by calling those route
functions with the signed-in person as the Principal: the same services, the same collector
filter, nothing written. Times are the borrower's local times, as on the account page.

Who sees it: staff who read accounts (collectors, supervisors, auditors), as the JSON routes
allow. A collector sees a borrower when they may see at least one of the loans (the loans they
hold or nobody holds); a borrower whose every loan someone else holds is a 403 page, an unknown
borrower a 404 page. Without Temporal the page still shows the loans (the search service the
route reads them from) and the store's part of the timeline, and says the holds and contact
counts cannot be read.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import Role
from api.desk.views import (
    TIMELINE_ENTRIES,
    NotSignedIn,
    _forbidden_page,
    _page,
    _signed_in,
    _to_sign_in,
    who,
)
from api.errors import ApiError
from api.routes.borrowers import BorrowerOut, get_borrower, get_borrower_timeline
from api.services.search import MAX_LIMIT, AccountFilter, AccountPage, search_accounts
from api.state import database_url, require_temporal

router = APIRouter(prefix="/desk", include_in_schema=False)

READERS = (Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR)
"""Who reads a borrower: the JSON routes' AccountReaderDep and TimelineReaderDep."""

BORROWER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""The JSON routes' path rule for a borrower id."""


def _loans(url: str, borrower_id: str, viewer: str | None) -> AccountPage:
    """The borrower's loans as the route reads them (the account search, a collector's filter)."""
    where = AccountFilter(borrower_id=borrower_id, viewer=viewer)
    return search_accounts(url, where, None, MAX_LIMIT)


@router.get("/borrowers/{borrower_id}")
async def borrower_page(request: Request, borrower_id: str) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    if user.role not in READERS:
        return _forbidden_page("Borrowers are read by collectors, supervisors and auditors.")
    if not BORROWER_ID.match(borrower_id):
        return _forbidden_page(f"No borrower {borrower_id} is known.", 404)
    principal = who(user)
    url = database_url(request)
    try:
        timeline = await get_borrower_timeline(request, principal, borrower_id)
    except ApiError as exc:
        if exc.status != 404:
            return _forbidden_page(exc.message, exc.status)
        # None of the loans is the collector's to see, or there are none at all.
        anyone = await asyncio.to_thread(_loans, url, borrower_id, None)
        if anyone.items:
            return _forbidden_page(
                f"Every loan of borrower {borrower_id} is held by someone else; a collector "
                "sees a borrower when they may see at least one of the loans."
            )
        return _forbidden_page(f"No borrower {borrower_id} is known.", 404)
    borrower: BorrowerOut | None
    try:
        client = await require_temporal(request)
        borrower = await get_borrower(request, principal, client, borrower_id)
    except ApiError:
        borrower = None
    if borrower is not None:
        loans = borrower.loans
    else:
        viewer = user.username if user.role == Role.COLLECTOR else None
        loans = (await asyncio.to_thread(_loans, url, borrower_id, viewer)).items
    zone = next((loan.timezone for loan in loans if loan.timezone), None)
    context: dict[str, Any] = {
        "borrower_id": borrower_id,
        "borrower": borrower,
        "name": next((loan.borrower_name for loan in loans if loan.borrower_name), None),
        "loans": loans,
        "zone": zone,
        "history": timeline.history,
        "timeline": timeline.entries[-TIMELINE_ENTRIES:],
        "timeline_total": len(timeline.entries),
    }
    return await _page(request, "borrower.html", context, user, session)
