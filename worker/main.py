"""Run one worker: connect, prepare the namespace and the store, then poll the task queue until
SIGTERM (or SIGINT), and drain: no new tasks, in-flight activities get the shutdown grace
(ARREARS_WORKER_SHUTDOWN_GRACE) to finish before they are cancelled (and retried elsewhere)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities import build_activities
from activities.channels.templates import validate_strategy_templates
from core.search_attributes import ensure_search_attributes
from core.settings import Settings
from core.temporal import connect, refuse_public_key, sandbox_runner
from core.tracing import observed_client, tracer_of, tracer_provider
from domain.policy import PolicyRegistry
from store.engine import get_engine
from store.migrate import upgrade
from store.tracing import trace_engine
from worker.deployment import deployment_config, promote
from worker.health import PollingMonitor, serve_health
from worker.metrics import ActivityMetricsInterceptor, install_metrics_runtime
from worker.policy import load_policy
from worker.tuning import WorkerTuning
from workflows import WORKFLOWS
from workflows.account import SANDBOX_SHARED

log = logging.getLogger(__name__)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox this worker runs arrears' workflows in: core's passthrough list plus the
    AccountWorkflow's decision modules and its own two modules, named once in
    workflows.account.SANDBOX_SHARED."""
    return sandbox_runner(SANDBOX_SHARED)


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
    cached_workflows: int | None = None,
    tuning: WorkerTuning | None = None,
) -> Worker:
    """The worker with every workflow and activity of arrears (tests use this too; with
    `cached_workflows=0` every workflow task rebuilds its run from history, as a freshly
    deployed worker does). Slots, pollers and limits come from the settings (worker/tuning.py);
    the executor should have `tuning.max_activities` threads."""
    tuning = tuning or WorkerTuning.for_machine(settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=build_activities(settings),
        activity_executor=executor,
        max_concurrent_activities=tuning.max_activities,
        max_concurrent_workflow_tasks=tuning.max_workflow_tasks,
        max_concurrent_workflow_task_polls=tuning.workflow_pollers,
        max_concurrent_activity_task_polls=tuning.activity_pollers,
        max_task_queue_activities_per_second=tuning.task_queue_activities_per_second,
        graceful_shutdown_timeout=tuning.shutdown_grace,
        deployment_config=deployment,
        max_cached_workflows=tuning.cache_size if cached_workflows is None else cached_workflows,
        # the correlation id and traces come with the client (core/tracing.observed_client)
        interceptors=[ActivityMetricsInterceptor()],
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM (Kubernetes, docker stop) and SIGINT set `stop`: the worker drains, then exits."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set, or until SIGTERM/SIGINT when no event is given; the store is
    migrated first for the activities."""
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
    await ensure_search_attributes(client, client.namespace)
    deployment = deployment_config(settings)
    tuning = WorkerTuning.for_machine(settings)
    if stop is None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
    monitor = PollingMonitor(client, settings.task_queue, client.identity)
    with ThreadPoolExecutor(max_workers=tuning.max_activities) as executor:
        worker = build_worker(client, settings, executor, deployment, tuning=tuning)
        async with serve_health(
            monitor, settings.worker_health_host, settings.worker_health_port
        ) as health:
            log.info(
                "worker %s polling task queue %r%s (%s)%s",
                client.identity,
                settings.task_queue,
                f" as {deployment.version.to_canonical_string()}" if deployment else "",
                tuning,
                f"; probes on {health}/health/ready" if health else "",
            )
            running = asyncio.create_task(worker.run())
            monitor.running = True
            if deployment is not None and settings.promote_build:
                await promote(client, deployment.version)
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait([running, waiting], return_when="FIRST_COMPLETED")
            waiting.cancel()
            if not running.done():
                monitor.draining = True
                log.info(
                    "stopping: draining in-flight tasks (up to %s s)",
                    tuning.shutdown_grace.total_seconds(),
                )
                await worker.shutdown()
            monitor.running = False
            await running
            log.info("worker stopped")
