"""Policy pinned by reference (docs/policy.md): a new version of a contact profile is what new
episodes start with while running ones keep theirs, and a worker that cannot match an episode's
reference exactly fails its workflow tasks, naming it, until a worker that has it runs."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from domain.policy import PolicyRegistry, install_registry
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    sleep_until,
    start,
    status,
)
from worker.main import build_worker


@pytest.fixture
def profiles(policy_dir: Path, policy_registry: PolicyRegistry) -> Iterator[Path]:
    """The tests' profiles folder, restored (with the session's registry) afterwards."""
    folder = policy_dir / "profiles"
    backup = policy_dir.parent / f"{policy_dir.name}-profiles-backup"
    shutil.copytree(folder, backup)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
        backup.rename(folder)
        install_registry(policy_registry)


def _profile_label(seen: dict[str, object], name: str) -> str:
    labels = [p for p in seen["policy"] if str(p).startswith(f"profile {name}@")]  # type: ignore[attr-defined]
    assert len(labels) == 1, seen["policy"]
    return str(labels[0])


async def test_a_new_profile_version_is_pinned_by_new_episodes_while_running_ones_keep_theirs(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    profiles: Path,
    policy_dir: Path,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json("L-PIN-OLD", due))
    assert _profile_label(await status(api, "L-PIN-OLD"), "cn").startswith("profile cn@1#")

    # Version 2 of the CN rules (quiet hours from 21:00); version 1 stays as cn-v1.yaml.
    shutil.copyfile(profiles / "cn.yaml", profiles / "cn-v1.yaml")
    text = (profiles / "cn.yaml").read_text(encoding="utf-8")
    (profiles / "cn.yaml").write_text(
        text.replace("version: 1", "version: 2", 1).replace('end: "22:00"', 'end: "21:00"', 1)
    )
    install_registry(PolicyRegistry.load(policy_dir))

    await start(api, account_json("L-PIN-NEW", due))
    assert _profile_label(await status(api, "L-PIN-NEW"), "cn").startswith("profile cn@2#")
    assert _profile_label(await status(api, "L-PIN-OLD"), "cn").startswith("profile cn@1#")

    # Both episodes keep deciding: the old one with version 1 from cn-v1.yaml.
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
    for loan in ("L-PIN-OLD", "L-PIN-NEW"):
        kinds = [a["kind"] for a in await actions(api, loan)]
        assert kinds.count("sms_reminder") == 2, (loan, kinds)  # pre-due and DPD 1


async def test_a_worker_that_cannot_match_an_episodes_profile_fails_its_tasks_until_one_can(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    api: httpx.AsyncClient,
    profiles: Path,
    policy_dir: Path,
    policy_registry: PolicyRegistry,
) -> None:
    # Without a workflow cache every task rebuilds the episode from its input, as a freshly
    # deployed worker does.
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(workflow_env.client, settings, executor, cached_workflows=0):
            due = await business_today(workflow_env) + timedelta(days=2)
            await start(api, account_json("L-PIN-LOST", due))

            # The worker's files change version 1 in place: it must not decide with them.
            text = (profiles / "cn.yaml").read_text(encoding="utf-8")
            (profiles / "cn.yaml").write_text(text.replace('end: "22:00"', 'end: "21:00"', 1))
            install_registry(PolicyRegistry.load(policy_dir))
            handle = workflow_env.client.get_workflow_handle("account-L-PIN-LOST")
            schedule = account_json("L-PIN-LOST", due)["instalments"]
            await handle.signal("instalments", {"instalments": schedule})
            failures = await _task_failures(workflow_env, handle)
            assert "changed without a new version" in failures[-1], failures[-1]

            install_registry(policy_registry)  # a worker with the episode's policy comes back
            await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
            assert (await status(api, "L-PIN-LOST"))["dpd"] == 1


async def _task_failures(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The decrypted messages of the run's failed workflow tasks, waiting (in real time: the
    server does not skip time while a task is failing) until there is one."""
    converter = env.client.data_converter
    for _ in range(100):
        failures = [
            e.workflow_task_failed_event_attributes.failure
            for e in (await handle.fetch_history()).events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        if failures:
            return [str(await converter.decode_failure(f)) for f in failures]
        await asyncio.sleep(0.1)
    raise AssertionError("the workflow task did not fail")


async def test_a_calendar_year_published_while_an_episode_runs_is_pinned_at_its_next_stage(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    policy_dir: Path,
    policy_registry: PolicyRegistry,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    next_year = policy_dir / "calendars" / "CN" / f"{due.year + 1}.yaml"
    aside = policy_dir.parent / f"{policy_dir.name}-{next_year.name}"
    # The directory the account starts from has no calendar for the next year yet ...
    next_year.rename(aside)
    try:
        await start(api, account_json("L-PIN-CAL", due))
        pinned = [p for p in (await status(api, "L-PIN-CAL"))["policy"] if "calendar" in p]
        assert not [p for p in pinned if f"CN/{due.year + 1}@" in p], pinned
    finally:
        aside.rename(next_year)  # ... then it is published, and the worker holds it.

    # DPD 30 enters mid_range: a stage boundary, where the episode continues as new.
    await sleep_until(workflow_env, due + timedelta(days=31), hour=12)
    seen = await status(api, "L-PIN-CAL")
    assert seen["stage"] == "mid_range", seen
    labels = [p for p in seen["policy"] if p.startswith("calendar ")]
    assert [p for p in labels if p.startswith(f"calendar CN/{due.year + 1}@1#")], labels
    described = await workflow_env.client.get_workflow_handle("account-L-PIN-CAL").describe()
    assert described.run_id != described.raw_description.workflow_execution_info.first_run_id
