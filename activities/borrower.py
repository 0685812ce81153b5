"""Asking the borrower's contact authority (docs/borrowers.md): the account workflow's grant
request goes to the BorrowerWorkflow as an update-with-start, so the authority exists on first
use. Safe to retry: the borrower answers a grant id it answered before the same way, and counts
it once."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from workflows.contracts.borrowers import (
    BORROWER_WORKFLOW,
    REQUEST_GRANTS,
    BorrowerInput,
    BorrowerUpdate,
    GrantRequest,
    GrantResult,
    borrower_workflow_id,
)


@activity.defn(name=REQUEST_GRANTS)
async def request_grants(borrower_id: str, request: GrantRequest) -> GrantResult:
    """The borrower's answers to this moment's contacts (and its holds now)."""
    info = activity.info()
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        BORROWER_WORKFLOW,
        BorrowerInput(borrower_id=borrower_id),
        id=borrower_workflow_id(borrower_id),
        task_queue=info.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await activity.client().execute_update_with_start_workflow(
        BorrowerUpdate.GRANT, request, start_workflow_operation=start, result_type=GrantResult
    )
