"""The simulator's own stack: a time-skipping Temporal server from the wheel, the real worker, the
sandbox gateway on a free port, a temporary SQLite store and the API in-process.

The API and the worker are the caller's (`Processes`): the `arrears simulate` command and the
benchmark hand in their factories, so the simulator drives the real processes without importing
them and api/ and worker/ stay leaves of the house (DESIGN.md: nothing imports them)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import data_converter
from domain.policy import PolicyRegistry, install_registry
from sandbox.app import GatewayConfig, create_gateway_app
from simulator.worker_processes import ExtraWorkers, extra_workers
from store.engine import get_engine
from store.migrate import upgrade

__all__ = ["NOBODY", "Processes", "SimStack", "TEST_SERVER", "sandbox_gateway", "sim_stack"]

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
NOBODY = "http://127.0.0.1:9"  # nobody serves status callbacks: the gateway does not send them


Clock = Callable[[], Awaitable[datetime]]


@dataclass(frozen=True)
class Processes:
    """How to build the API app (settings, client, the business clock) and the worker (client,
    settings, activity executor): `api.app.create_app` and `worker.main.build_worker`; and the
    command that runs one more worker process (`arrears worker`), for runs on several cores."""

    app: Callable[[Settings, Client, Clock], Any]
    worker: Callable[[Client, Settings, ThreadPoolExecutor], Worker]
    worker_command: tuple[str, ...] | None = None


@dataclass
class SimStack:
    env: WorkflowEnvironment
    settings: Settings
    database_url: str
    api: httpx.AsyncClient
    worker: Worker
    extra_workers: ExtraWorkers


def cache_for(accounts: int) -> int:
    """Workflow cache slots for a run of `accounts`: each account's workflow, a quarter more for
    the subflows open beside them, and room for the run's first tasks (at least the worker's
    concurrent workflow tasks, which the SDK requires)."""
    return accounts + accounts // 4 + 100


@contextlib.asynccontextmanager
async def _sandbox() -> AsyncIterator[str]:
    sock = listening_socket()
    url = url_of(sock)
    config = GatewayConfig.from_settings(
        Settings(ARREARS_SANDBOX_URL=url, ARREARS_PUBLIC_URL=NOBODY),
        callback_delay=0.01,
        status_callbacks=False,
    )
    try:
        async with serve_in_background(create_gateway_app(config), sock):
            yield url
    finally:
        sock.close()


sandbox_gateway = _sandbox
"""The sandbox gateway on a free port, status callbacks off (bench/memory.py runs one too)."""


@contextlib.asynccontextmanager
async def sim_stack(
    workdir: Path,
    processes: Processes,
    strategies: tuple[str, ...] = ("default",),
    split: int = 50,
    max_workers: int = 32,
    accounts: int = 0,
    worker_processes: int = 1,
) -> AsyncIterator[SimStack]:
    """Everything `arrears simulate` runs on; torn down in reverse order on exit. The API starts
    accounts under `strategies[0]`, or splits them by loan id (domain/arms.py) between it and
    `strategies[1]` with `split` percent to the challenger (api/services/onboarding.py).

    The worker's workflow cache holds every account the run opens (and their subflows) unless
    ARREARS_WORKER_CACHE_SIZE says otherwise: evicted runs replay their history at every task.
    With `worker_processes` above 1, that many minus one `processes.worker_command` processes
    poll beside the in-process worker (simulator/worker_processes.py), each with that cache."""
    if worker_processes > 1 and not processes.worker_command:
        raise ValueError("more than one worker process needs Processes.worker_command")
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / 'arrears.db'}"
    await asyncio.to_thread(upgrade, database_url)
    async with _sandbox() as sandbox_url:
        settings = Settings(
            DATABASE_URL=database_url,
            ARREARS_TASK_QUEUE=f"simulate-{uuid.uuid4().hex[:8]}",
            ARREARS_API_KEYS=DEMO_API_KEYS,
            ARREARS_DATA_DIR=workdir / "data",
            ARREARS_SANDBOX_URL=sandbox_url,
            ARREARS_PUBLIC_URL=NOBODY,
            ARREARS_STRATEGY=strategies[0],
            ARREARS_CHALLENGER=strategies[1] if len(strategies) > 1 else "none",
            ARREARS_CHALLENGER_SPLIT=split,
        )
        if settings.worker_cache_size is None:
            settings = settings.model_copy(update={"worker_cache_size": cache_for(accounts)})
        # The workflows resolve the policy the API pins from the same directory
        # (ARREARS_POLICY_DIR), as a worker process does at start.
        previous_registry = install_registry(PolicyRegistry.load(settings.policy_dir))
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(settings),
            test_server_existing_path=str(TEST_SERVER),
        )
        try:
            await ensure_search_attributes(env.client, env.client.namespace)
            app = processes.app(settings, env.client, env.get_current_time)
            limits = httpx.Limits(max_connections=64)
            with ThreadPoolExecutor(max_workers=max_workers) as executor:
                worker = processes.worker(env.client, settings, executor)
                async with (
                    worker,
                    extra_workers(
                        processes.worker_command or (),
                        worker_processes - 1,
                        settings,
                        env.client.service_client.config.target_host,
                        workdir / "logs",
                    ) as extra,
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app),
                        base_url="http://arrears.simulated",
                        limits=limits,
                        timeout=120,
                    ) as api,
                ):
                    yield SimStack(env, settings, database_url, api, worker, extra)
        finally:
            await env.shutdown()
            get_engine(database_url).dispose()
            install_registry(previous_registry)
