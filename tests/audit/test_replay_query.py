"""`arrears replay --query` on the dev-server tier (the time-skipping server has no visibility):
the executions a visibility query lists are fetched and replayed against the current code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client

from core.settings import Settings
from core.temporal import connect
from domain.account import Account
from domain.policy import installed_registry, pin_policy
from tests.audit.conftest import ARREARS
from tests.workflows.helpers import account_json
from worker.main import build_worker
from workflows.contracts import AccountWorkflowInput, workflow_id_for


@pytest.fixture
async def dev_client(dev_server: str, database_url: str) -> AsyncIterator[tuple[Client, Settings]]:
    settings = Settings(
        TEMPORAL_ADDRESS=dev_server,
        DATABASE_URL=database_url,
        ARREARS_TASK_QUEUE=f"q-{uuid.uuid4().hex[:6]}",
    )
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=32) as executor:
        async with build_worker(client, settings, executor):
            yield client, settings


async def test_replay_query_replays_every_execution_the_visibility_query_lists(
    dev_client: tuple[Client, Settings], cli_env: dict[str, str]
) -> None:
    client, settings = dev_client
    registry = installed_registry()
    due = (datetime.now(UTC) + timedelta(days=10)).date()
    loans = [f"L-QUERY-{i}" for i in range(2)]
    for loan in loans:
        await client.start_workflow(
            "AccountWorkflow",
            AccountWorkflowInput(
                account=Account.model_validate(account_json(loan, due)),
                policy=pin_policy(registry, registry.current("strategy", "default"), None),
            ),
            id=workflow_id_for(loan),
            task_queue=settings.task_queue,
        )
    query = f"ArrearsState='pre_due' AND TaskQueue='{settings.task_queue}'"
    deadline = time.monotonic() + 30
    while (await client.count_workflows(query)).count < len(loans):
        assert time.monotonic() < deadline, "visibility never listed the episodes"
        await asyncio.sleep(0.3)

    env = {**cli_env, "TEMPORAL_ADDRESS": settings.temporal_address}
    process = await asyncio.create_subprocess_exec(
        *ARREARS,
        "replay",
        "--query",
        query,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode() + err.decode()
    lines = out.decode().strip().splitlines()
    assert sorted(line.split()[1] for line in lines[:-1]) == [workflow_id_for(x) for x in loans]
    assert lines[-1].startswith(f"replayed {len(loans)} histories") and "0 failed" in lines[-1]
    for loan in loans:
        await client.get_workflow_handle(workflow_id_for(loan)).terminate("test finished")
