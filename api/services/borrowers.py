"""The borrower's contact authority as the API meets it (docs/borrowers.md): a loan with a
borrower id joins its borrower before its episode starts (a conflicting fact is a 422 naming
it), and `GET /v1/borrowers/{id}` reads the borrower's view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.errors import raise_known_update_failure
from domain.account import Account
from domain.contact.borrower import BorrowerFacts
from domain.contact.consolidation import DueLine, scheduled_dues
from domain.vocabulary import ErrorCode
from workflows.contracts.borrowers import (
    BORROWER_CONFLICT,
    BORROWER_WORKFLOW,
    BorrowerInput,
    BorrowerQuery,
    BorrowerUpdate,
    BorrowerView,
    LoanRegistration,
    borrower_workflow_id,
)


def facts_of(account: Account, jurisdiction: str) -> BorrowerFacts:
    return BorrowerFacts(
        name=account.borrower.name,
        timezone=account.borrower.timezone,
        jurisdiction=jurisdiction.upper(),
    )


async def join_borrower(
    client: Client, task_queue: str, account: Account, jurisdiction: str
) -> None:
    """The loan joins its borrower (the authority starts with its first loan). A name, time
    zone or jurisdiction that differs from the borrower's other loans → 422, nothing started.
    A loan without a borrower id is its own borrower: nothing to join."""
    borrower_id = account.borrower.id
    if borrower_id is None:
        return
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        BORROWER_WORKFLOW,
        BorrowerInput(borrower_id=borrower_id),
        id=borrower_workflow_id(borrower_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        await client.execute_update_with_start_workflow(
            BorrowerUpdate.REGISTER,
            LoanRegistration(
                loan_id=account.loan_id,
                facts=facts_of(account, jurisdiction),
                dues=scheduled_dues(
                    account.loan_id,
                    account.currency,
                    [DueLine(due_date=i.due_date, unpaid=i.amount) for i in account.instalments],
                ),
            ),
            start_workflow_operation=start,
            result_type=BorrowerView,
        )
    except WorkflowUpdateFailedError as exc:
        raise_known_update_failure(exc, {BORROWER_CONFLICT: (422, ErrorCode.INVALID_INPUT)})
        raise


async def borrower_view(client: Client, borrower_id: str, as_of: datetime) -> BorrowerView | None:
    """The authority's view, or None when the borrower has none (no loan sent its id)."""
    handle = client.get_workflow_handle(borrower_workflow_id(borrower_id))
    try:
        view: BorrowerView = await handle.query(BorrowerQuery.VIEW, as_of, result_type=BorrowerView)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return view
