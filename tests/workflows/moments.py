"""`apply_moment` mocked, as Temporal's samples mock an activity: for scenario tests whose point is
what the workflow decides (states, DPD, penalty, which actions it took and when), not what the
store and the channels do with it. The test still drives the account through the API; the
workflow's moments are kept here instead of being written to the store and delivered, so such a
test neither waits on SQLite nor on the sandbox gateway. Tests about the store, the task queue,
deliveries or the timeline use the real worker (the `worker` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.policy import find_calendars
from core.settings import Settings
from worker.main import workflow_runner
from workflows import WORKFLOWS
from workflows.contracts import ActionCommand, MomentRecord


class MomentRecorder:
    """Every moment the workflows flushed, in order; nothing delivered, nothing failed."""

    def __init__(self) -> None:
        self.moments: list[MomentRecord] = []

    @activity.defn(name="apply_moment")
    async def apply_moment(self, moment: MomentRecord) -> dict[str, Any]:
        self.moments.append(moment)
        return {"deliveries": []}

    def actions(self, loan_id: str) -> list[ActionCommand]:
        """The account's actions in the order the workflow took them."""
        return [a for m in self.moments if m.loan_id == loan_id for a in m.actions]

    def listed(self, loan_id: str) -> list[dict[str, Any]]:
        """The account's actions shaped as `GET /v1/accounts/{id}/actions` lists them (kind,
        instant, stage, channel, and the detail with its step and template), for a test that
        reads what the workflow decided, not what the store added (task ids, deliveries)."""
        return [
            {
                "seq": a.seq,
                "kind": str(a.kind),
                "at": a.at.isoformat(),
                "stage": a.stage,
                "channel": a.channel,
                "detail": {
                    **a.detail.stored(),
                    **({"step_id": a.step_id} if a.step_id else {}),
                    **({"template": a.template} if a.template else {}),
                },
            }
            for a in self.actions(loan_id)
        ]


@pytest.fixture
def moments() -> MomentRecorder:
    return MomentRecorder()


@pytest.fixture
async def recording_worker(
    workflow_env: WorkflowEnvironment, settings: Settings, moments: MomentRecorder
) -> AsyncIterator[Worker]:
    """The real workflows with `apply_moment` recorded in memory (see the module docstring)."""
    async with Worker(
        workflow_env.client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=[moments.apply_moment, find_calendars],
    ) as running:
        yield running
