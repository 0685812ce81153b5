"""Run one worker: connect, prepare the namespace and the store, then poll the task queue."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities import build_activities
from activities.channels.templates import validate_strategy_templates
from core.search_attributes import ensure_search_attributes
from core.settings import Settings
from core.temporal import connect, refuse_public_key, workflow_runner
from core.tracing import observed_client, tracer_of, tracer_provider
from domain.policy import PolicyRegistry
from store.engine import get_engine
from store.migrate import upgrade
from store.tracing import trace_engine
from worker.deployment import deployment_config, promote
from worker.metrics import ActivityMetricsInterceptor, install_metrics_runtime
from worker.policy import load_policy
from workflows import WORKFLOWS

log = logging.getLogger(__name__)


def check_strategy_templates(registry: PolicyRegistry) -> None:
    """Every served strategy's message templates exist and fit its SMS length, checked before
    the worker polls: a template that is too long fails here, not at an account's first SMS.
    The strategies are the policy directory's (ARREARS_POLICY_DIR), the ones episodes pin."""
    for strategy in registry.strategies():
        validate_strategy_templates(strategy)


def build_worker(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    deployment: WorkerDeploymentConfig | None = None,
    cached_workflows: int = 1000,
) -> Worker:
    """The worker with every workflow and activity of arrears (tests use this too; with
    `cached_workflows=0` every workflow task rebuilds its run from history, as a freshly
    deployed worker does)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=build_activities(settings),
        activity_executor=executor,
        max_concurrent_activities=32,
        deployment_config=deployment,
        max_cached_workflows=cached_workflows,
        # the correlation id and traces come with the client (core/tracing.observed_client)
        interceptors=[ActivityMetricsInterceptor()],
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or forever); the store is migrated first for the activities."""
    refuse_public_key(settings)
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    check_strategy_templates(load_policy(settings))
    metrics_address = install_metrics_runtime(settings)  # before the client: it keeps its runtime
    traces = tracer_provider(settings, "arrears-worker")
    if traces is not None:
        trace_engine(get_engine(settings.effective_database_url), traces)
    client = observed_client(await connect(settings), tracer_of(traces))
    if metrics_address:
        log.info("worker metrics on http://%s/metrics", metrics_address)
    await ensure_search_attributes(client, settings.temporal_namespace)
    deployment = deployment_config(settings)
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(client, settings, executor, deployment)
        log.info(
            "worker polling task queue %r on %s%s",
            settings.task_queue,
            settings.temporal_address,
            f" as {deployment.version.to_canonical_string()}" if deployment else "",
        )
        running = asyncio.create_task(worker.run())
        if deployment is not None and settings.promote_build:
            await promote(client, deployment.version)
        if stop is not None:
            await asyncio.wait(
                [running, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED"
            )
            if not running.done():
                await worker.shutdown()
        await running
