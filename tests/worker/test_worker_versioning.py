"""Worker Versioning on the dev server (the time-skipping server has none): an episode stays on
the build that started it until its next stage boundary, where it continues-as-new onto the
deployment's current build; a new episode starts on the current build."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.search_attributes import ensure_search_attributes
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import connect
from domain.account import Account
from domain.calendar import local_date
from domain.policy import installed_registry, pin_policy
from tests.workflows.helpers import TZ, account_json
from worker.deployment import deployment_config, promote
from worker.main import build_worker
from workflows.contracts import AccountStatus, AccountWorkflowInput, workflow_id_for


def _settings(
    address: str, database_url: str, sandbox_url: str, policy: Path, build: str
) -> Settings:
    return Settings(
        TEMPORAL_ADDRESS=address,
        DATABASE_URL=database_url,
        ARREARS_TASK_QUEUE="versioning",
        ARREARS_API_KEYS=DEMO_API_KEYS,
        ARREARS_SANDBOX_URL=sandbox_url,
        ARREARS_PUBLIC_URL="http://127.0.0.1:9",
        ARREARS_POLICY_DIR=policy,
        ARREARS_BUILD_ID=build,
    )


@asynccontextmanager
async def _build(client: Client, settings: Settings) -> AsyncIterator[None]:
    """A worker of one build, made the deployment's current version."""
    deployment = deployment_config(settings)
    assert deployment is not None
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(client, settings, executor, deployment):
            await promote(client, deployment.version)
            yield


async def _build_of(handle: WorkflowHandle[Any, Any]) -> tuple[str, str]:
    """(run id, build id) of the workflow's latest run, once a worker has taken a task."""
    for _ in range(150):
        described = await handle.describe()
        info = described.raw_description.workflow_execution_info.versioning_info
        build = info.deployment_version.build_id or info.version.rpartition(".")[2]
        if build:
            return described.run_id or "", build
        await asyncio.sleep(0.1)
    raise AssertionError("no worker took the workflow")


async def _start(client: Client, loan: str, days_overdue: int) -> WorkflowHandle[Any, Any]:
    """An account whose older instalment is `days_overdue` days late and a second one 31 days
    later: it starts in the middle of its ladder."""
    due = local_date(datetime.now(UTC), TZ) - timedelta(days=days_overdue)
    account = Account.model_validate(
        account_json(loan, due, amounts=("1200.00", "1200.00"), gap_days=31)
    )
    registry = installed_registry()
    policy = pin_policy(registry, registry.current("strategy", "default"), None, due.year)
    return await client.start_workflow(
        "AccountWorkflow",
        AccountWorkflowInput(account=account, policy=policy),
        id=workflow_id_for(loan),
        task_queue="versioning",
    )


async def test_an_episode_keeps_its_build_until_a_stage_boundary_new_ones_start_on_the_current(
    dev_server: str, database_url: str, sandbox_url: str, policy_dir: Path
) -> None:
    first = _settings(dev_server, database_url, sandbox_url, policy_dir, "build-1")
    second = _settings(dev_server, database_url, sandbox_url, policy_dir, "build-2")
    client = await connect(first)
    await ensure_search_attributes(client, first.temporal_namespace)

    async with _build(client, first):
        running = await _start(client, "L-VER-RUNNING", days_overdue=40)  # mid range, DPD 40
        first_run, build = await _build_of(running)
        assert build == "build-1"

        async with _build(client, second):
            # build-2 is current now; the running episode takes its next task on build-1.
            await running.signal(
                "payment",
                {"payment_id": "p-0", "amount": "1.00", "paid_at": datetime.now(UTC).isoformat()},
            )
            await asyncio.sleep(1)
            assert await _build_of(running) == (first_run, "build-1")

            fresh = await _start(client, "L-VER-FRESH", days_overdue=-1)
            assert (await _build_of(fresh))[1] == "build-2"

            # Paying the older instalment rolls DPD back to 9: mid range -> front end, a stage
            # boundary, where the episode continues as new onto the current build.
            await running.signal(
                "payment",
                {
                    "payment_id": "p-1",
                    "amount": "1300.00",
                    "paid_at": datetime.now(UTC).isoformat(),
                },
            )
            for _ in range(150):
                run, build = await _build_of(running)
                if run != first_run:
                    break
                await asyncio.sleep(0.1)
            assert run != first_run, "the episode did not continue as new at the stage boundary"
            status = await running.query("status", result_type=AccountStatus)
            assert (status.dpd, status.stage) == (9, "front_end")
            # The new run reports its build once a worker has completed its first task.
            for _ in range(50):
                if (await _build_of(running))[1] == "build-2":
                    break
                await asyncio.sleep(0.1)
            assert await _build_of(running) == (run, "build-2")
