"""Who may act on which account beyond their role (CONTRACT roles): a collector acts on the
accounts they hold or that nobody holds yet; supervisors on every account."""

from __future__ import annotations

import asyncio

from fastapi import Request

from api.auth import Role, current_principal
from api.errors import ApiError
from api.state import database_url
from store.engine import session_scope
from store.models import AccountRow


def _holder(url: str, loan_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return row.assignee if row else None


async def collector_holds_account(loan_id: str, request: Request) -> None:
    """CONTRACT roles: a collector acts on the accounts they hold (or that nobody holds yet);
    supervisors act on every account. Other roles are judged by the route's own `require`."""

    who = current_principal(request)
    if who.role != Role.COLLECTOR:
        return
    holder = await asyncio.to_thread(_holder, database_url(request), loan_id)
    if holder is not None and holder != who.user:
        raise ApiError(
            403,
            "forbidden",
            f"Account {loan_id} is held by {holder}; a collector acts only on accounts they hold.",
        )
