"""A payment's way in (CONTRACT.md `POST /v1/accounts/{loan_id}/payments`).

An open episode takes it as the `record_payment` update: its validator, inside the workflow that
books every payment, refuses the same payment_id with another amount (409 `payment_conflict`,
naming the amount on record) before anything enters history, so two reports racing with one id
cannot both pass, which a check of the store ahead of a signal could not promise. After
write-off the workflow has ended and the store books the money as a recovery (PLAYBOOK.md
section 8); there the store's payment rows are the record, and its unique key settles a race.

While no worker answers (every worker down for longer than the answer wait), the payment goes
as a signal so the money is never refused for an outage of ours. A signal cannot be refused, so
before it is sent the store's payment rows are checked with the recovery path's own check
(`_refuse_conflict`): a payment_id already booked with another amount is a 409 there too. What
the store has not yet booked (the workflow took the first report but its moment is not written)
the workflow still meets in its signal handler: it books nothing and records a
`payment_conflict` action and a `payment.conflict` event, so a conflict is never silent. If the
store is down as well, the signal goes unchecked (money is not refused because our read store is
away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlmodel import select
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import STORE_DOWN, ApiError, raise_known_update_failure
from api.services.amounts import check_amounts_fit_currency, check_amounts_in, stored_currency
from api.services.episodes import UPDATE_ERRORS, describe_status, handle_if_open, is_running
from api.state import database_url
from domain.account import PaymentIn
from domain.money import quantize
from domain.vocabulary import ErrorCode
from store import recoveries
from store.engine import session_scope
from store.models import AccountRow, PaymentRow
from workflows.contracts import AccountSignal, AccountUpdate, PaymentBooked, workflow_id_for

__all__ = ["accept_payment"]

log = logging.getLogger(__name__)


async def accept_payment(
    request: Request, client: Client, loan_id: str, payment: PaymentIn
) -> dict[str, Any]:
    """The 202 answer, or the ApiError of a refusal (404, 409, 422; 503 when Temporal or the
    store cannot be reached: nothing was accepted, retry with the same payment_id)."""
    answer = {"accepted": True, "loan_id": loan_id, "payment_id": payment.payment_id}
    booked = await _book_if_open(request, client, loan_id, payment)
    if booked is not None:
        return {**answer, **booked}
    status = await describe_status(client, loan_id)
    if status is not None and not is_running(status):
        recovery = await asyncio.to_thread(_book_recovery, database_url(request), loan_id, payment)
        if recovery is not None:
            return {**answer, **recovery}
    handle = handle_if_open(client, loan_id, status, "accept a payment")
    await check_amounts_fit_currency(request, client, loan_id, [(["amount"], payment.amount)])
    sent = await _send(handle, payment, _answer_within(request), _store_check(request, loan_id))
    return {**answer, **_duplicate(sent)}


def _answer_within(request: Request) -> float:
    seconds: float = request.app.state.settings.payment_answer_seconds
    return seconds


def _duplicate(booked: PaymentBooked | None) -> dict[str, Any]:
    """`duplicate` when the workflow said (an episode on a build before the update says nothing)."""
    return {} if booked is None else {"duplicate": not booked.booked}


async def _book_if_open(
    request: Request, client: Client, loan_id: str, payment: PaymentIn
) -> dict[str, Any] | None:
    """The common case in two round trips (the store's currency, then the update) instead of
    three; None when the store has not seen the account or its workflow has ended, and the
    caller then takes the careful path (describe, recovery after write-off, 404/409)."""
    currency = await stored_currency(request, loan_id)
    if currency is None:
        return None
    check_amounts_in(currency, [(["amount"], payment.amount)])
    try:
        booked = await _send(
            client.get_workflow_handle(workflow_id_for(loan_id)),
            payment,
            _answer_within(request),
            _store_check(request, loan_id),
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return _duplicate(booked)


StoreCheck = Callable[[PaymentIn], Awaitable[None]]
"""Raise the 409 of a payment the store already holds with another amount; run before a signal."""


async def _send(
    handle: WorkflowHandle[Any, Any],
    payment: PaymentIn,
    answer_within: float,
    before_signal: StoreCheck | None = None,
) -> PaymentBooked | None:
    """The update, answered by the workflow. None when the payment went as the `payment`
    signal instead, which counts a payment_id once but cannot answer a conflict:

    - the episode runs on a build from before the update (Worker Versioning keeps it there until
      its next stage boundary), which rejects the update as unknown;
    - no worker answered within `answer_within` seconds (ARREARS_PAYMENT_ANSWER_SECONDS, 10 by
      default: far above a healthy answer, far below a loan system's HTTP timeout; all workers
      down or restarting): the money must not wait for them. The signal is in history at
      once; the update, if a worker takes it later, finds the payment booked and adds nothing.

    `before_signal` (the store's check) runs first, so a conflict the store knows of is a 409
    on this path as well.
    """
    try:
        # The RPC's own deadline: cancelling the call from Python would not end the server's
        # wait for a worker, which is the one thing that must end here.
        booked: PaymentBooked = await handle.execute_update(
            AccountUpdate.PAYMENT,
            payment,
            result_type=PaymentBooked,
            rpc_timeout=timedelta(seconds=answer_within),
        )
        return booked
    except WorkflowUpdateFailedError as failure:
        raise_known_update_failure(failure, UPDATE_ERRORS)
        if not _no_such_update(failure):
            raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        log.warning("no worker answered a payment within %s s: sent as a signal", answer_within)
    if before_signal is not None:
        await before_signal(payment)
    await handle.signal(AccountSignal.PAYMENT, payment)
    return None


def _no_such_update(failure: WorkflowUpdateFailedError) -> bool:
    """The SDK's rejection of an update its workflow has no handler for."""
    cause = failure.cause
    return (
        isinstance(cause, ApplicationError)
        and "expected but not found" in cause.message
        and AccountUpdate.PAYMENT.value in cause.message
    )


def _book_recovery(url: str, loan_id: str, payment: PaymentIn) -> dict[str, Any] | None:
    """After write-off: the payment booked as a recovery once; None when the account was not
    written off (the caller answers 404/409 as for any ended episode)."""
    with session_scope(url) as session:
        account = recoveries.written_off(session, loan_id)
        if account is None:
            return None
        on_record = _refuse_conflict(session, account, payment)
        new = on_record is None and recoveries.book_recovery(session, account, payment)
    return {"booked_as": recoveries.RECOVERY, "duplicate": not new}


def _store_check(request: Request, loan_id: str) -> StoreCheck:
    """The store's conflict check for the signal path, bound to this request's store."""
    url = database_url(request)

    async def check(payment: PaymentIn) -> None:
        try:
            await asyncio.to_thread(_check_store, url, loan_id, payment)
        except STORE_DOWN:
            # Workers and store both away: the signal still carries the money; the workflow
            # records a conflict it meets (its `payment_conflict` action).
            log.warning("store unreachable: payment %s signalled unchecked", payment.payment_id)

    return check


def _check_store(url: str, loan_id: str, payment: PaymentIn) -> None:
    with session_scope(url) as session:
        account = session.get(AccountRow, loan_id)
        if account is not None:
            _refuse_conflict(session, account, payment)


def _refuse_conflict(session: Any, account: AccountRow, payment: PaymentIn) -> Any:
    """The amount on record for the payment's id (None when none); raise the 409
    `payment_conflict` when that amount is not the payment's. The one store check of both the
    recovery path and the signal fallback."""
    on_record = _on_record(session, account, payment.payment_id)
    if on_record is not None and on_record != payment.amount:
        raise _conflict(account.loan_id, payment, on_record)
    return on_record


def _on_record(session: Any, account: AccountRow, payment_id: str) -> Any:
    row = session.exec(
        select(PaymentRow).where(
            PaymentRow.loan_id == account.loan_id, PaymentRow.payment_id == payment_id
        )
    ).first()
    # The column keeps 4 decimals; the amount is named at its currency's precision.
    return None if row is None else quantize(row.amount, account.currency)


def _conflict(loan_id: str, payment: PaymentIn, on_record: Any) -> ApiError:
    return ApiError(
        409,
        ErrorCode.PAYMENT_CONFLICT,
        f"Payment {payment.payment_id} is already booked for {loan_id} with the amount "
        f"{on_record}, not {payment.amount}; a payment_id names one payment.",
        {
            "payment_id": payment.payment_id,
            "amount_on_record": str(on_record),
            "amount": str(payment.amount),
        },
    )
