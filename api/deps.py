"""Shared dependencies: the Temporal client (connected lazily, so the API starts while Temporal
is still coming up and /health can say so) and the store URL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import Request
from temporalio.client import Client

from api.errors import ApiError
from core.settings import Settings
from core.temporal import connect
from domain.money import check_precision
from store.engine import session_scope
from store.models import AccountRow
from workflows.messages import AccountStatus, workflow_id_for

Clock = Callable[[], Awaitable[datetime]]


async def system_clock() -> datetime:
    return datetime.now(UTC)


class TemporalHandle:
    """Holds one client per API process; reconnects after a failed first attempt."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await connect(self._settings)
            return self._client


async def temporal_client(request: Request) -> Client:
    handle: TemporalHandle = request.app.state.temporal
    return await handle.get()


async def require_temporal(request: Request) -> Client:
    """The client, or 503 so the caller knows to retry: nothing was accepted."""
    try:
        return await asyncio.wait_for(temporal_client(request), timeout=5)
    except Exception as exc:
        raise ApiError(
            503, "service_unavailable", "Temporal is not reachable; nothing was accepted, retry."
        ) from exc


async def business_now(request: Request) -> datetime:
    """The instant the API asks the workflow to report "as of". Production uses the system clock
    (the same as the Temporal server's); tests and the simulator inject the server's virtual
    clock. Business decisions still happen only in workflows, on the workflow clock."""
    clock: Clock = request.app.state.clock
    return await clock()


def database_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.effective_database_url


def _stored_currency(url: str, loan_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return row.currency if row is not None else None


async def account_currency(request: Request, client: Client, loan_id: str) -> str:
    """The open account's currency: from the store's snapshot, else (an episode started a moment
    ago, before its first write) from the workflow's status query."""
    currency = await asyncio.to_thread(_stored_currency, database_url(request), loan_id)
    if currency:
        return currency
    handle = client.get_workflow_handle(workflow_id_for(loan_id))
    status = await handle.query("status", await business_now(request), result_type=AccountStatus)
    return status.currency


async def check_amounts_fit_currency(
    request: Request,
    client: Client,
    loan_id: str,
    amounts: Iterable[tuple[Sequence[object], Decimal]],
) -> None:
    """422 for an amount finer than the account's currency allows (100.005 CNY), before it is
    sent: the workflow cannot book it, and nothing invalid may reach a workflow."""
    pending = list(amounts)
    if not pending:
        return
    check_amounts_in(await account_currency(request, client, loan_id), pending)


async def stored_currency(request: Request, loan_id: str) -> str | None:
    """The currency in the store's snapshot; None for an account the store has not seen yet."""
    return await asyncio.to_thread(_stored_currency, database_url(request), loan_id)


def check_amounts_in(currency: str, amounts: Iterable[tuple[Sequence[object], Decimal]]) -> None:
    """422 naming the first amount finer than `currency` allows."""
    for where, amount in amounts:
        try:
            check_precision(amount, currency)
        except ValueError as exc:
            location = ".".join(str(part) for part in where)
            raise ApiError(
                422,
                "invalid_input",
                f"Invalid input — {location}: {exc}",
                [{"loc": ["body", *where], "msg": str(exc), "type": "amount_precision"}],
            ) from exc


def _holder(url: str, loan_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return row.assignee if row else None


async def collector_holds_account(loan_id: str, request: Request) -> None:
    """CONTRACT roles: a collector acts on the accounts they hold (or that nobody holds yet);
    supervisors act on every account. Other roles are judged by the route's own `require`."""
    from api.auth import Role, current_principal  # api.auth imports this module's neighbours

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
