"""`GET /v1/accounts`: find accounts (CONTRACT.md v1.1), for every staff role and the desk.

The answer comes from the store (api/services/search.py); a collector sees only the accounts
they hold or that nobody holds, supervisors and auditors all, the loan system none (403).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from api.auth import Role
from api.deps import AccountReaderDep
from api.errors import ApiError
from api.services.search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AccountFilter,
    AccountPage,
    BadCursor,
    decode_cursor,
    search_accounts,
)
from api.state import database_url

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


def bad_cursor(exc: BadCursor) -> ApiError:
    return ApiError(
        422,
        "invalid_input",
        f"Invalid input — cursor: {exc}; send back the next_cursor of an earlier answer as is.",
        [{"loc": ["query", "cursor"], "msg": str(exc), "type": "cursor"}],
    )


@router.get(
    "",
    summary="Find accounts",
    description="Accounts from the store in loan id order, `limit` (1-200, default 50) at a "
    "time; `next_cursor` fetches the next page (null on the last). `q` matches a loan id (or its "
    "beginning), any part of the borrower's name, or the last 4 digits of one of their phones; "
    "`state`, `bucket`, `stage`, `holder` and `borrower_id` filter exactly. A collector sees the "
    "accounts they hold or nobody holds. A cursor this API did not write, or a bad limit → 422.",
    response_model=AccountPage,
)
async def find_accounts(
    *,
    request: Request,
    who: AccountReaderDep,
    q: str | None = Query(None, max_length=100, description="loan id, name or phone's last 4"),
    state: str | None = Query(None, max_length=20),
    bucket: str | None = Query(None, max_length=10),
    stage: str | None = Query(None, max_length=20),
    holder: str | None = Query(None, max_length=80),
    borrower_id: str | None = Query(None, max_length=64),
    cursor: str | None = Query(None, max_length=400),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AccountPage:
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise bad_cursor(exc) from exc
    where = AccountFilter(
        q=q,
        state=state,
        bucket=bucket,
        stage=stage,
        holder=holder,
        borrower_id=borrower_id,
        viewer=who.user if who.role == Role.COLLECTOR else None,
    )
    return await asyncio.to_thread(search_accounts, database_url(request), where, after, limit)
