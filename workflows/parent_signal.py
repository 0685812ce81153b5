"""How a subflow (restructure, write-off) tells its AccountWorkflow what happened.

By workflow id only, never a run id: the event reaches the run that is current after the parent
continued as new. A parent that is gone cannot act on the event; that is the caller's to log,
not a failure of the subflow, whose own result still stands."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import AccountSignal, SubflowEvent, SubflowEventKind, SubflowKind


async def tell_parent(
    subflow: SubflowKind, parent_id: str, kind: SubflowEventKind, detail: dict[str, Any]
) -> FailureError | None:
    """Signal the parent a `subflow_event`; the failure when it could not be delivered."""
    event = SubflowEvent(
        subflow=subflow,
        child_id=workflow.info().workflow_id,
        kind=kind,
        at=workflow.now(),
        detail=detail,
    )
    try:
        await workflow.get_external_workflow_handle(parent_id).signal(
            AccountSignal.SUBFLOW_EVENT, event
        )
    except FailureError as failure:
        return failure
    return None
