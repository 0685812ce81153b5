"""Who may act on which account beyond their role (CONTRACT roles): a collector acts on the
accounts they hold or that nobody holds yet; supervisors on every account. Also who the staff
are, so an account or a task is only ever handed to a person who exists."""

from __future__ import annotations

import asyncio

from fastapi import Request

from api.auth import KeyRing, Principal, Role, current_principal
from api.errors import ApiError
from api.state import database_url
from store.engine import session_scope
from store.models import AccountRow


def _holder(url: str, loan_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return row.assignee if row else None


def collector_may_act(who: Principal, holder: str | None) -> bool:
    """A collector acts on (and reads the messages of) what they hold or nobody holds."""
    return who.role != Role.COLLECTOR or holder is None or holder == who.user


async def may_read_messages(loan_id: str, request: Request) -> bool:
    """The rule of `GET .../messages`: collectors (on accounts they may act on), supervisors and
    auditors; not the loan system, which never needs the borrower's numbers back."""
    who = current_principal(request)
    if who.role not in (Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR):
        return False
    if who.role != Role.COLLECTOR:
        return True
    holder = await asyncio.to_thread(_holder, database_url(request), loan_id)
    return collector_may_act(who, holder)


def known_staff(request: Request) -> frozenset[str]:
    """The users named in ARREARS_API_KEYS (but the loan system) and ARREARS_TEAM_LEAD."""
    keyring: KeyRing = request.app.state.keyring
    return keyring.staff() | {request.app.state.settings.team_lead}


def require_known_staff(request: Request, name: str, field: str) -> None:
    """422 `unknown_staff` for a name nobody in the configuration carries: an account handed to
    a typo would sit with nobody, its calls never made."""
    if name not in known_staff(request):
        raise ApiError(
            422,
            "unknown_staff",
            f"Invalid input — {field}: {name!r} is not a known member of staff (the users of "
            "ARREARS_API_KEYS and ARREARS_TEAM_LEAD).",
            [{"loc": ["body", field], "msg": "not a known member of staff", "type": "staff"}],
        )


async def collector_holds_account(loan_id: str, request: Request) -> None:
    """CONTRACT roles: a collector acts on the accounts they hold (or that nobody holds yet);
    supervisors act on every account. Other roles are judged by the route's own `require`."""

    who = current_principal(request)
    if who.role != Role.COLLECTOR:
        return
    holder = await asyncio.to_thread(_holder, database_url(request), loan_id)
    if not collector_may_act(who, holder):
        raise ApiError(
            403,
            "forbidden",
            f"Account {loan_id} is held by {holder}; a collector acts only on accounts they hold.",
        )
