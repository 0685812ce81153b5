"""Account endpoints (CONTRACT.md): start an episode, read its status, send payments and promises.

Messages go straight to Temporal (no polling): updates with validators for payments and
promises, so a conflicting payment or a bad promise is refused before it enters history.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import Role
from api.deps import AnyRoleDep, CollectorDep, LoanSystemDep, SettingsDep, TemporalClientDep
from api.errors import ApiError, raise_known_update_failure
from api.services.access import collector_holds_account, may_read_messages
from api.services.amounts import (
    check_amounts_fit_currency,
)
from api.services.episodes import (
    UPDATE_ERRORS,
    describe_status,
    is_running,
    open_handle,
    open_in_store,
    query_if_open,
    query_status,
)
from api.services.masking import mask_numbers_in
from api.services.onboarding import start_episode
from api.services.payments import accept_payment
from api.state import business_now, database_url, require_temporal
from domain.account import Account, PaymentIn, PhoneNumber, PromiseIn
from store.engine import as_utc, session_scope
from store.models import AccountRow, ActionRow
from workflows.contracts import (
    AccountSignal,
    AccountStatus,
    AccountUpdate,
    InstalmentsIn,
    PromiseRequest,
    PromiseView,
)

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


async def _query_status(request: Request, client: Client, loan_id: str) -> AccountStatus:
    return await query_status(client, loan_id, await business_now(request))


def _snapshot(url: str, loan_id: str) -> AccountStatus | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return AccountStatus.model_validate(row.status) if row and row.status else None


@router.post(
    "",
    status_code=201,
    summary="Start collection for an account at pre-1day",
    description="Starts the account's workflow (id `account-{loan_id}`). The same loan_id while "
    "its workflow is open answers 200 with the open one; nothing is duplicated.",
    response_model=AccountStatus,
    responses={200: {"description": "already open", "model": AccountStatus}},
)
async def start_account(
    account: Account,
    request: Request,
    _who: LoanSystemDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> Any:
    started = await start_episode(client, settings, account, await business_now(request))
    if not started.created:
        return JSONResponse(started.status.model_dump(mode="json"), status_code=200)
    return started.status


@router.get(
    "/{loan_id}",
    summary="The account's status",
    description="Answered by the workflow's query; the store's snapshot when the workflow is "
    "closed.",
    response_model=AccountStatus,
)
async def get_account(
    loan_id: str,
    request: Request,
    _who: AnyRoleDep,
    client: TemporalClientDep,
) -> AccountStatus:
    url = database_url(request)
    # The common case in one call to Temporal: the store shows the episode open, so query it
    # directly (refused unless the workflow runs); otherwise describe it as before.
    try:
        store_open = loan_id in await asyncio.to_thread(open_in_store, url, [loan_id])
    except SQLAlchemyError:
        store_open = False  # a running episode is still answered by its query, as before
    direct = await query_if_open(client, loan_id, await business_now(request), store_open)
    if direct is not None:
        return direct
    status = await describe_status(client, loan_id)
    if is_running(status):
        return await _query_status(request, client, loan_id)
    snapshot = await asyncio.to_thread(_snapshot, url, loan_id)
    if snapshot is not None:
        return snapshot
    if status is not None:
        return await _query_status(request, client, loan_id)
    raise ApiError(404, "not_found", f"No account {loan_id} is known.")


@router.post(
    "/{loan_id}/payments",
    status_code=202,
    summary="Report a payment",
    description="Delivered to the workflow as an update; a repeated payment_id is counted once "
    "(202 with `duplicate: true`). 202 means the workflow booked it; the payment_id already "
    "booked with another amount → 409 `payment_conflict` naming the amount on record (decided "
    "by the workflow, so two racing reports cannot both pass); Temporal unreachable → 503 "
    "(nothing accepted, retry with the same payment_id). Unknown loan → 404; a closed account "
    "→ 409; after write-off the payment is booked as a recovery.",
    responses={
        202: {
            "description": "In the workflow's history.",
            "content": {
                "application/json": {
                    "example": {
                        "accepted": True,
                        "loan_id": "L-1001",
                        "payment_id": "PAY-20261205-000183",
                    }
                }
            },
        }
    },
)
async def post_payment(
    loan_id: str,
    payment: PaymentIn,
    request: Request,
    _who: LoanSystemDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    return await accept_payment(request, client, loan_id, payment)


@router.post(
    "/{loan_id}/instalments",
    status_code=202,
    summary="Send new or changed instalments",
    description="The schedule changed or a new instalment was issued: delivered to the workflow "
    "as the `instalments` signal; they fall due in turn while the account is open. Unknown loan "
    "→ 404; a closed account → 409; Temporal unreachable → 503.",
    responses={
        202: {
            "description": "In the workflow's history.",
            "content": {"application/json": {"example": {"accepted": True, "loan_id": "L-1001"}}},
        }
    },
)
async def post_instalments(
    loan_id: str,
    body: InstalmentsIn,
    request: Request,
    _who: LoanSystemDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    handle = await open_handle(client, loan_id, "change instalments")
    amounts = [(["instalments", i, "amount"], x.amount) for i, x in enumerate(body.instalments)]
    await check_amounts_fit_currency(request, client, loan_id, amounts)
    await handle.signal(AccountSignal.INSTALMENTS, body)
    return {"accepted": True, "loan_id": loan_id}


class PromiseBody(PromiseIn):
    """A promise to pay; `conversation: true` when the borrower made it on the phone (an
    inbound call, or a call outside a task), so the contact rules count that conversation
    (Regulation F: no call for 7 days after it, the conversation day being day 1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": "1200.00",
                    "promised_date": "2026-12-10",
                    "pay_to": "the app",
                    "conversation": True,
                }
            ]
        }
    )

    conversation: bool = Field(
        default=False, description="made in a telephone conversation with the borrower"
    )
    number: PhoneNumber | None = Field(
        default=None,
        description="the number the conversation was on (E.164; default the borrower's first "
        "live number); only with conversation",
    )


@router.post(
    "/{loan_id}/promises",
    status_code=201,
    summary="Record a promise to pay",
    description="Past dates, dates beyond the policy's maximum, amounts ≤ 0 or above the balance "
    "→ 422; a closed account or an open promise → 409. `conversation: true` records a telephone "
    "conversation with the borrower at this instant in the contact ledger (Regulation F's "
    "7-day pause starts from it).",
    response_model=PromiseView,
    dependencies=[Depends(collector_holds_account)],
)
async def post_promise(
    loan_id: str,
    promise: PromiseBody,
    who: CollectorDep,
    client: TemporalClientDep,
) -> PromiseView:
    if promise.number is not None and not promise.conversation:
        raise ApiError(
            422,
            "invalid_input",
            "number names the phone of a conversation: send conversation: true",
        )
    handle = await open_handle(client, loan_id, "record a promise")
    body = PromiseRequest(
        promise=PromiseIn.model_validate(promise.model_dump(exclude={"conversation", "number"})),
        recorded_by=who.user,
        supervisor_override=who.role == Role.SUPERVISOR,
        conversation=promise.conversation,
        number=promise.number,
    )
    try:
        return await handle.execute_update(AccountUpdate.PROMISE, body, result_type=PromiseView)
    except WorkflowUpdateFailedError as exc:
        raise_known_update_failure(exc, UPDATE_ERRORS)
        raise


@router.get(
    "/{loan_id}/actions",
    summary="Everything done to the account, in order",
    description="CONTRACT.md `Action`s `{seq, at, kind, channel, stage, status, detail}` from the "
    "store, oldest first (an account just accepted, before its first moment: `[]`). Phone "
    "numbers in `detail` show only their last four digits to callers "
    "who may not read the account's messages (the loan system; a collector on an account "
    "someone else holds), as `/messages` shows them. Unknown loan → 404.",
    responses={
        200: {
            "description": "The actions, oldest first.",
            "content": {
                "application/json": {
                    "example": [
                        {
                            "seq": 1,
                            "at": "2026-11-30T02:00:00Z",
                            "kind": "sms_reminder",
                            "channel": "sms",
                            "stage": "pre_due",
                            "status": "sent",
                            "detail": {"template": "pre_due_reminder"},
                        }
                    ]
                }
            },
        }
    },
)
async def list_actions(
    loan_id: str,
    request: Request,
    _who: AnyRoleDep,
) -> list[dict[str, Any]]:
    masked = not await may_read_messages(loan_id, request)

    def read() -> list[dict[str, Any]] | None:
        with session_scope(database_url(request)) as session:
            if session.get(AccountRow, loan_id) is None:
                return None
            rows = session.exec(
                select(ActionRow)
                .where(ActionRow.loan_id == loan_id)
                .order_by(ActionRow.at, ActionRow.seq)  # type: ignore[arg-type]
            ).all()
            return [
                {
                    "seq": r.seq,
                    "at": as_utc(r.at),
                    "kind": r.kind,
                    "channel": r.channel,
                    "stage": r.stage,
                    "status": r.status,
                    "detail": mask_numbers_in(r.detail) if masked else r.detail,
                }
                for r in rows
            ]

    actions = await asyncio.to_thread(read)
    if actions is None:
        # The store hears of an episode with its first moment; an account just accepted has
        # done nothing yet (CONTRACT.md v1.1: 200 `[]`, never 404).
        if await _episode_exists(request, loan_id):
            return []
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return actions


async def _episode_exists(request: Request, loan_id: str) -> bool:
    """Whether Temporal knows the account's workflow; False when Temporal cannot be asked (the
    answer is then the store's alone, as before: 404)."""
    try:
        client = await require_temporal(request)
        return await describe_status(client, loan_id) is not None
    except (ApiError, RPCError):
        return False
