"""Worker operations: tuning as settings sized for the machine, the SMS provider's rate limit,
readiness that reports the worker's polling as the Temporal server sees it, and SIGTERM draining
to a clean exit."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.channels.rate import TokenBucket
from core.settings import Settings
from tests.processes import base_env, free_port, processes, wait_for
from worker.main import build_worker
from worker.tuning import WorkerTuning


def test_unset_tuning_is_sized_for_the_machine_and_settings_override_it() -> None:
    gib = 1 << 30
    two_cores = WorkerTuning.for_machine(Settings(), cpus=2, memory_bytes=8 * gib)
    assert (two_cores.cache_size, two_cores.max_workflow_tasks, two_cores.max_activities) == (
        2048,  # a quarter of 8 GiB at 1 MiB per cached run
        20,
        32,
    )
    assert (two_cores.workflow_pollers, two_cores.activity_pollers) == (4, 4)
    assert WorkerTuning.for_machine(Settings(), cpus=16, memory_bytes=gib).max_activities == 64
    assert WorkerTuning.for_machine(Settings(), cpus=2, memory_bytes=gib).cache_size == 500
    assert WorkerTuning.for_machine(Settings(), cpus=2, memory_bytes=512 * gib).cache_size == 20_000
    tuned = WorkerTuning.for_machine(
        Settings(
            ARREARS_WORKER_CACHE_SIZE="50",
            ARREARS_WORKER_MAX_WORKFLOW_TASKS="5",
            ARREARS_WORKER_MAX_ACTIVITIES="7",
            ARREARS_WORKER_WORKFLOW_POLLERS="2",
            ARREARS_WORKER_ACTIVITY_POLLERS="3",
            ARREARS_TASK_QUEUE_ACTIVITIES_PER_SECOND="12.5",
            ARREARS_WORKER_SHUTDOWN_GRACE="45",
        ),
        cpus=2,
        memory_bytes=8 * gib,
    )
    assert tuned == WorkerTuning(50, 5, 7, 2, 3, 12.5, timedelta(seconds=45))


async def test_the_worker_is_built_with_the_tuning_and_the_shutdown_grace(
    workflow_env: WorkflowEnvironment,
) -> None:
    client = workflow_env.client
    settings = Settings(
        ARREARS_WORKER_MAX_ACTIVITIES="7",
        ARREARS_TASK_QUEUE_ACTIVITIES_PER_SECOND="3",
        ARREARS_WORKER_SHUTDOWN_GRACE="12",
    )
    with ThreadPoolExecutor(max_workers=7) as executor:
        config = build_worker(client, settings, executor).config()
    assert config.get("max_concurrent_activities") == 7
    assert config.get("max_task_queue_activities_per_second") == 3
    assert config.get("graceful_shutdown_timeout") == timedelta(seconds=12)


def test_the_sms_rate_limit_spaces_messages_at_the_configured_rate() -> None:
    now = [0.0]
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(rate=5, clock=lambda: now[0], sleep=sleep)
    for _ in range(11):
        bucket.acquire()
        sent.append(now[0])
    # the first goes at once, then one every 1/5 s: 10 more messages take 2 s
    assert sent[0] == 0.0
    assert abs(sent[-1] - 2.0) < 1e-9
    assert all(b - a >= 0.2 - 1e-9 for a, b in zip(sent, sent[1:], strict=False))


def _ready(url: str) -> tuple[int, dict[str, object]]:
    response = httpx.get(url, timeout=10)
    return response.status_code, response.json()


def test_readiness_reports_polling_and_sigterm_drains_to_a_clean_exit(
    tmp_path: Path, database_url: str
) -> None:
    temporal_port, health_port = free_port(), free_port()
    env = base_env(
        {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "DATABASE_URL": database_url,
            "ARREARS_TASK_QUEUE": "ops",
            "ARREARS_WORKER_VERSIONING": "false",
            "ARREARS_WORKER_SHUTDOWN_GRACE": "5",
        }
    )
    ready_url = f"http://127.0.0.1:{health_port}/health/ready"
    with processes(tmp_path, env) as group:
        temporal = group.temporal(temporal_port)
        worker = group.worker("worker", health_port)

        def polling() -> bool:
            worker.check()
            try:
                return _ready(ready_url)[0] == 200
            except httpx.HTTPError:
                return False

        wait_for(polling, "the worker's readiness", timeout=90, step=0.5)
        status, report = _ready(ready_url)
        last_poll = report["last_poll"]
        assert isinstance(last_poll, dict) and last_poll["workflow"] and last_poll["activity"]
        assert httpx.get(f"http://127.0.0.1:{health_port}/health/live").status_code == 200

        # The server goes away: the process lives on, but it is no longer ready.
        temporal.stop()
        time.sleep(6)  # past the probe cache
        status, report = _ready(ready_url)
        assert status == 503 and str(report["temporal"]).startswith("unreachable")
        assert httpx.get(f"http://127.0.0.1:{health_port}/health/live").status_code == 200

        started = time.monotonic()
        code = worker.stop(timeout=30)
        assert code == 0, worker.log()[-2000:]
        assert time.monotonic() - started < 25
        assert "draining in-flight tasks" in worker.log() and "worker stopped" in worker.log()
