"""Money the API checks before anything reaches a workflow: an amount finer than the account's
currency allows (100.005 CNY) is a 422, since the workflow could not book it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from decimal import Decimal

from fastapi import Request
from temporalio.client import Client

from api.errors import ApiError
from api.services.episodes import query_status
from api.state import business_now, database_url
from domain.money import check_precision
from store.engine import session_scope
from store.models import AccountRow

# An account's currency never changes (the loan's, fixed at its first start): once the store
# has named it, a payment needs no store read, only the call to Temporal (issue 19). Keyed by
# database URL; only currencies the store has named are kept, so an account the store has not
# seen yet is asked again.
_CURRENCIES: dict[tuple[str, str], str] = {}
_CURRENCIES_MAX = 200_000  # about 30 MB at the most; cleared whole when full


def _stored_currency(url: str, loan_id: str) -> str | None:
    known = _CURRENCIES.get((url, loan_id))
    if known is not None:
        return known
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        currency = row.currency if row is not None else None
    if currency:
        if len(_CURRENCIES) >= _CURRENCIES_MAX:
            _CURRENCIES.clear()
        _CURRENCIES[(url, loan_id)] = currency
    return currency


def _currency_of(url: str, loan_id: str) -> str | None:
    """The cached currency without a thread hop; None when it must be read from the store."""
    return _CURRENCIES.get((url, loan_id))


async def account_currency(request: Request, client: Client, loan_id: str) -> str:
    """The open account's currency: from the store's snapshot, else (an episode started a moment
    ago, before its first write) from the workflow's status query."""
    currency = await stored_currency(request, loan_id)
    if currency:
        return currency
    status = await query_status(client, loan_id, await business_now(request))
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
    """The currency in the store's snapshot; None for an account the store has not seen yet.
    Read once per account and process: the currency never changes."""
    url = database_url(request)
    return _currency_of(url, loan_id) or await asyncio.to_thread(_stored_currency, url, loan_id)


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
