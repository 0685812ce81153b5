"""More worker processes for a simulation: Python runs one workflow task at a time per process,
and on the simulator that process is the bottleneck (issue 19: our worker used about 2.9 ms of
CPU per history event against 11% of a core for the Java test server), so a second core only
helps a run if a second process polls the same task queue.

Each extra process is the real `arrears worker` (the caller's command, as with the in-process
worker: the simulator does not import the processes), pointed at the simulation's time-skipping
server, store, sandbox gateway and task queue, unversioned (the test server has no Worker
Versioning) and without probe or metrics ports. The in-process worker keeps polling too, so a
run with N processes has the in-process worker and N - 1 of these."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from core.serving import listening_socket
from core.settings import Settings, environment_names

__all__ = ["ExtraWorkers", "WorkerProcessError", "environment_of", "extra_workers"]

READY_LINE = "polling task queue"
"""What `arrears worker` logs once its worker runs (worker/main.py run_worker)."""
START_TIMEOUT = 60.0


class WorkerProcessError(RuntimeError):
    """An extra worker process did not start: the run would silently use fewer cores."""


@dataclass
class ExtraWorkers:
    """The extra processes of a run and, once they have stopped, what they did: the workflow
    tasks and activities each completed (read from its Prometheus endpoint just before it
    stops) and the CPU time they used together."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics_urls: list[str] = field(default_factory=list)
    workflow_tasks: list[int] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)
    cpu_seconds: float | None = None


WORKFLOW_TASKS = "temporal_workflow_task_execution_latency"
ACTIVITIES = "temporal_activity_execution_latency"


def _count_of(metrics: str, histogram: str) -> int:
    """The total count of a histogram on a Prometheus page (all label sets summed)."""
    total = 0.0
    for line in metrics.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in (f"{histogram}_count", f"{histogram}_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def _tally(extra: ExtraWorkers) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for url in extra.metrics_urls:
            try:
                page = (await http.get(url)).text
            except httpx.HTTPError:
                page = ""
            extra.workflow_tasks.append(_count_of(page, WORKFLOW_TASKS))
            extra.activities.append(_count_of(page, ACTIVITIES))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def environment_of(settings: Settings) -> dict[str, str]:
    """The settings as the environment a child process reads them back from (every field by
    its alias; unset optional fields are left out)."""
    env: dict[str, str] = {}
    for name, declared in Settings.model_fields.items():
        value = getattr(settings, name)
        if declared.alias is None or value is None:
            continue
        if isinstance(value, SecretStr):
            env[declared.alias] = value.get_secret_value()
        elif isinstance(value, bool):
            env[declared.alias] = "true" if value else "false"
        else:
            env[declared.alias] = str(value)
    return env


def _child_environment(
    settings: Settings, temporal_address: str, metrics_port: int
) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k not in environment_names()}
    return {
        **inherited,
        **environment_of(settings),
        "TEMPORAL_ADDRESS": temporal_address,
        "ARREARS_WORKER_VERSIONING": "false",
        "ARREARS_WORKER_HEALTH_PORT": "0",
        "ARREARS_WORKER_METRICS_HOST": "127.0.0.1",
        "ARREARS_WORKER_METRICS_PORT": str(metrics_port),
        "ARREARS_LOG_FORMAT": "text",
        "ARREARS_LOG_LEVEL": "INFO",
    }


async def _until_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if READY_LINE in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise WorkerProcessError(f"a simulator worker process did not start ({log}):\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def extra_workers(
    command: Sequence[str],
    count: int,
    settings: Settings,
    temporal_address: str,
    logs: Path,
) -> AsyncIterator[ExtraWorkers]:
    """`count` worker processes running `command`, each logging to `logs`/worker-N.log; the
    block starts once every one of them polls, and they are stopped (SIGTERM, then kill) when it
    ends, which fills in the CPU time they used."""
    logs.mkdir(parents=True, exist_ok=True)
    extra = ExtraWorkers()
    processes = extra.processes
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for index in range(count):
            log = logs / f"worker-{index + 2}.log"
            with contextlib.closing(listening_socket()) as probe:
                port = probe.getsockname()[1]
            env = _child_environment(settings, temporal_address, port)
            extra.metrics_urls.append(f"http://127.0.0.1:{port}/metrics")
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    list(command), env=env, stdout=sink, stderr=subprocess.STDOUT
                )
            processes.append(process)
            started.append((process, log))
        for process, log in started:
            await _until_ready(process, log)
        yield extra
    finally:
        await _tally(extra)
        # Reaped children's CPU time is added to RUSAGE_CHILDREN when they are waited for: the
        # difference across the stop is these processes' (nothing else is reaped meanwhile).
        before = _children_cpu()
        for process in processes:
            await asyncio.to_thread(_stop, process)
        extra.cpu_seconds = round(_children_cpu() - before, 2) if processes else None
