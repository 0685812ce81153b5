"""After each workflow test, terminate the episodes it left open: their worker (and task queue)
goes away with the test, and a timer of an orphaned workflow firing later would create a workflow
task nobody polls, which stops the time-skipping server from skipping time for the next test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.helpers import STARTED


@pytest.fixture(autouse=True)
async def _terminate_open_episodes(workflow_env: WorkflowEnvironment) -> AsyncIterator[None]:
    STARTED.clear()
    yield
    for loan_id in STARTED:
        handle = workflow_env.client.get_workflow_handle(f"account-{loan_id}")
        with contextlib.suppress(RPCError):
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")
    STARTED.clear()
