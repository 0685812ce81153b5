"""Run one worker: connect, prepare the namespace and the store, then poll the task queue."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import build_activities
from activities.channels.templates import validate_strategy_templates
from arrears.settings import Settings
from arrears.temporal import connect, refuse_public_key
from domain.strategy import STRATEGIES_DIR, load_strategy
from store.migrate import upgrade
from worker.calendars import install_calendars
from worker.search_attributes import ensure_search_attributes
from workflows import WORKFLOWS
from workflows.account import DECISION_MODULES

log = logging.getLogger(__name__)


# Modules the workflow sandbox shares with the host instead of re-importing per workflow run:
# our pure domain (deterministic by rule), the AccountWorkflow's decision modules (pure, no
# mutable module state: tests/unit/episode/test_purity.py) and the data libraries they use, whose
# lazily loaded tables (babel's CLDR files, phonenumbers' region metadata) the sandbox would
# otherwise refuse. (A `from package import module` inside `imports_passed_through()` is not
# enough: the sandbox compiled those modules again for every run.)
PASSTHROUGH_MODULES = (
    "domain",
    "workflows.messages",
    "workflows.state",
    *DECISION_MODULES,
    "babel",
    "phonenumbers",
    "yaml",
    "holidays",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def check_shipped_strategies() -> None:
    """Every strategy's message templates exist and fit its SMS length, checked before the worker
    polls: a template that is too long fails here, not at an account's first SMS."""
    for path in sorted(STRATEGIES_DIR.glob("*.yaml")):
        validate_strategy_templates(load_strategy(path.stem))


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """The worker with every workflow and activity of arrears (tests use this too)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=build_activities(settings),
        activity_executor=executor,
        max_concurrent_activities=32,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or forever); the store is migrated first for the activities."""
    refuse_public_key(settings)
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    check_shipped_strategies()
    install_calendars(settings.calendars_dir)
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(client, settings, executor)
        log.info(
            "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address
        )
        if stop is None:
            await worker.run()
        else:
            async with worker:
                await stop.wait()
