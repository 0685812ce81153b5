"""The worker's probes: `/health/live` (the process and its worker are running) and
`/health/ready` (the Temporal frontend lists this worker among the task queue's pollers, for
workflow and activity tasks, recently): a worker whose polls stopped reaching the server is not
ready even though its process is up.

The SDK exposes no polling state and its Prometheus exporter (ARREARS_WORKER_METRICS_PORT) serves
only metrics, so this is a small HTTP server of its own on ARREARS_WORKER_HEALTH_PORT, asking the
server what it sees: DescribeTaskQueue's poller list, with each poller's last access time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.serving import serve_in_background

# A poll is a long poll of up to about a minute; the server records its start. A worker whose
# last poll began longer ago than this is not polling.
POLL_STALE_AFTER = timedelta(seconds=90)
# Probes come every few seconds; the answer is reused this long.
CACHE_SECONDS = 5.0

_KINDS = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


@dataclass
class PollingMonitor:
    """What the probes answer from. `running` is set while the worker polls, cleared when it
    starts draining (SIGTERM) or stopped."""

    client: Client
    task_queue: str
    identity: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    running: bool = False
    draining: bool = False
    _cached: tuple[float, dict[str, Any]] | None = field(default=None, repr=False)

    async def pollers(self) -> dict[str, str | None]:
        """Per task type, when the server last saw this worker poll (ISO), None if never."""
        seen: dict[str, str | None] = {}
        for kind, queue_type in _KINDS.items():
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=queue_type,
                ),
                timeout=timedelta(seconds=3),
            )
            mine = [p for p in response.pollers if p.identity == self.identity]
            seen[kind] = (
                max(p.last_access_time.ToDatetime(tzinfo=UTC) for p in mine).isoformat()
                if mine
                else None
            )
        return seen

    async def readiness(self) -> dict[str, Any]:
        if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        report: dict[str, Any] = {
            "task_queue": self.task_queue,
            "identity": self.identity,
            "running": self.running,
            "draining": self.draining,
        }
        try:
            seen = await asyncio.wait_for(self.pollers(), timeout=6)
        except Exception as error:
            report["temporal"] = f"unreachable: {error.__class__.__name__}"
            seen = dict.fromkeys(_KINDS)
        else:
            report["temporal"] = "ok"
        now = self.clock()
        polling = {
            kind: last is not None and now - datetime.fromisoformat(last) <= POLL_STALE_AFTER
            for kind, last in seen.items()
        }
        report["last_poll"] = seen
        report["ready"] = self.running and not self.draining and all(polling.values())
        self._cached = (time.monotonic(), report)
        return report


def health_app(monitor: PollingMonitor) -> Starlette:
    async def live(_request: Request) -> JSONResponse:
        alive = monitor.running or monitor.draining
        return JSONResponse({"live": alive}, status_code=200 if alive else 503)

    async def ready(_request: Request) -> JSONResponse:
        report = await monitor.readiness()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    return Starlette(
        routes=[Route("/health/live", live), Route("/health/ready", ready)],
    )


@contextlib.asynccontextmanager
async def serve_health(monitor: PollingMonitor, host: str, port: int) -> AsyncIterator[str | None]:
    """Serve the probes on host:port for the block (yields the URL); nothing when port is 0."""
    if not port:
        yield None
        return
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    try:
        async with serve_in_background(health_app(monitor), sock, lifespan="off") as url:
            yield url
    finally:
        sock.close()
