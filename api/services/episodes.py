"""The account's episode as the routes reach it: is its workflow open, a handle to it (404 for
an unknown loan, 409 for a closed account), and updates sent to it with the workflow's refusals
mapped to HTTP answers in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import col, select
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, raise_known_update_failure
from domain.vocabulary import ErrorCode, Refusal
from store.engine import session_scope
from store.models import AccountRow
from workflows.contracts import AccountQuery, AccountStatus, AccountUpdate, workflow_id_for

Result = TypeVar("Result", bound=BaseModel)


def is_running(status: WorkflowExecutionStatus | None) -> bool:
    return status == WorkflowExecutionStatus.RUNNING


async def describe_status(client: Client, loan_id: str) -> WorkflowExecutionStatus | None:
    try:
        description = await client.get_workflow_handle(workflow_id_for(loan_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.status


STATUS_ANSWER_SECONDS = 25
"""How long one status query may wait for the worker's answer before it is asked once more."""

_RETRIED_QUERY_CODES = frozenset(
    {
        # A query that reaches a run in the instant it continues as new (a payment that moves
        # the episode across a stage boundary) fails "workflow execution already completed"
        # (NOT_FOUND) on a server, or is lost and times out on the time-skipping test server:
        # asked again, it finds the new run.
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
    }
)


async def query_status(
    client: Client,
    loan_id: str,
    as_of: datetime,
    reject_condition: QueryRejectCondition | None = None,
) -> AccountStatus:
    """The episode's status "as of" an instant, asked at most twice: a read has no effect, so a
    query lost to a run that just continued as new is simply asked again of the current run."""
    handle = client.get_workflow_handle(workflow_id_for(loan_id))
    for attempt in (1, 2):
        try:
            status: AccountStatus = await handle.query(
                AccountQuery.STATUS,
                as_of,
                result_type=AccountStatus,
                reject_condition=reject_condition,
                rpc_timeout=timedelta(seconds=STATUS_ANSWER_SECONDS),
            )
            return status
        except RPCError as err:
            if attempt == 2 or err.status not in _RETRIED_QUERY_CODES:
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


async def query_if_open(
    client: Client, loan_id: str, as_of: datetime, store_open: bool
) -> AccountStatus | None:
    """The open episode's status in one round trip, when the store says the episode is open;
    None (the caller then describes the workflow) when the store does not say so, or Temporal
    finds no open workflow: the query is rejected unless the workflow is running (issue 19)."""
    if not store_open:
        return None
    try:
        status = await query_status(client, loan_id, as_of, QueryRejectCondition.NOT_OPEN)
    except WorkflowQueryRejectedError:
        return None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return status


def open_in_store(url: str, loan_ids: Sequence[str]) -> set[str]:
    """Which of the loans the store shows with an open episode (snapshot written, not closed):
    one read for a whole batch instead of a describe per loan."""
    if not loan_ids:
        return set()
    with session_scope(url) as session:
        rows = session.exec(
            select(AccountRow.loan_id).where(
                col(AccountRow.loan_id).in_(list(loan_ids)), col(AccountRow.closed_at).is_(None)
            )
        ).all()
    return set(rows)


async def open_handle(client: Client, loan_id: str, action: str) -> Any:
    return handle_if_open(client, loan_id, await describe_status(client, loan_id), action)


def handle_if_open(
    client: Client, loan_id: str, status: WorkflowExecutionStatus | None, action: str
) -> Any:
    if status is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    if not is_running(status):
        raise ApiError(
            409, "account_closed", f"Account {loan_id} is no longer in collection; cannot {action}."
        )
    return client.get_workflow_handle(workflow_id_for(loan_id))


# The workflow's refusals (its validators' ApplicationError types) → HTTP answer: one table
# for every update the API sends.
UPDATE_ERRORS: dict[str, tuple[int, str]] = {
    Refusal.NOT_ALLOWED: (409, ErrorCode.NOT_ALLOWED_IN_STATE),
    Refusal.NO_SUCH_HOLD: (409, ErrorCode.NO_SUCH_HOLD),
    Refusal.NO_OPEN_OFFER: (409, ErrorCode.NO_OPEN_OFFER),
    Refusal.NO_PLACEMENT: (409, ErrorCode.NOT_PLACED),
    Refusal.INVALID_PROMISE: (422, ErrorCode.INVALID_PROMISE),
    Refusal.SUPERVISOR_REQUIRED: (409, ErrorCode.SUPERVISOR_REQUIRED),
    Refusal.TASK_CLOSED: (409, ErrorCode.TASK_CLOSED),
    Refusal.TASK_NOT_OPEN: (409, ErrorCode.TASK_NOT_OPEN),
    Refusal.INVALID_OUTCOME: (422, ErrorCode.INVALID_OUTCOME),
    Refusal.PAYMENT_CONFLICT: (409, ErrorCode.PAYMENT_CONFLICT),
    Refusal.INVALID_PAYMENT: (422, ErrorCode.INVALID_INPUT),
    Refusal.ACCOUNT_CLOSED: (409, ErrorCode.ACCOUNT_CLOSED),
    Refusal.CASE_CLOSED: (409, ErrorCode.CASE_CLOSED),
    Refusal.INVALID_ADJUSTMENT: (422, ErrorCode.INVALID_INPUT),
}


async def update_account(
    client: Client,
    loan_id: str,
    name: AccountUpdate,
    body: BaseModel,
    what: str,
    result_type: type[Result],
) -> Result:
    """Send an update to the account's open workflow, its refusals mapped to 404/409/422; the
    answer read as the update's result type (workflows.contracts names it beside the payload)."""
    handle = await open_handle(client, loan_id, what)
    try:
        answer: Result = await handle.execute_update(name, body, result_type=result_type)
        return answer
    except WorkflowUpdateFailedError as exc:
        raise_known_update_failure(exc, UPDATE_ERRORS)
        raise
