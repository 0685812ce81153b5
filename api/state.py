"""What create_app puts on app.state (settings, the Temporal client handle, the business
clock) and the request-time accessors the dependencies in api/deps.py resolve through. The
Temporal client is connected lazily, so the API starts while Temporal is still coming up and
/health can say so."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import Request
from opentelemetry.trace import Tracer
from temporalio.client import Client

from api.errors import ApiError
from core.clock import server_time
from core.settings import Settings
from core.temporal import connect
from core.tracing import observed_client

Clock = Callable[[], Awaitable[datetime]]


async def system_clock() -> datetime:
    return datetime.now(UTC)


class TemporalHandle:
    """Holds one client per API process; reconnects after a failed first attempt."""

    def __init__(
        self, settings: Settings, client: Client | None = None, tracer: Tracer | None = None
    ) -> None:
        self._settings = settings
        self._client = client
        self._tracer = tracer
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                # with the correlation id (and traces) carried to the workflows
                self._client = observed_client(await connect(self._settings), self._tracer)
            return self._client


def server_clock(handle: TemporalHandle) -> Clock:
    """ARREARS_CLOCK=server: every "now" of the API (as_of, task windows, listings, expiry) is
    the time-skipping test server's virtual instant, read through the API's own client."""

    async def now() -> datetime:
        return await server_time(await handle.get())

    return now


def app_clock(settings: Settings, handle: TemporalHandle, clock: Clock | None) -> Clock:
    """The one business clock of an app: the one a caller passes (tests, the simulator), else the
    test server's under ARREARS_CLOCK=server, else the system's."""
    if clock is not None:
        return clock
    return server_clock(handle) if settings.virtual_time else system_clock


async def temporal_client(request: Request) -> Client:
    handle: TemporalHandle = request.app.state.temporal
    return await handle.get()


async def require_temporal(request: Request) -> Client:
    """The client, or 503 so the caller knows to retry: nothing was accepted."""
    try:
        return await asyncio.wait_for(temporal_client(request), timeout=5)
    except Exception as exc:
        raise ApiError(
            503, "service_unavailable", "Temporal is not reachable; nothing was accepted, retry."
        ) from exc


async def business_now(request: Request) -> datetime:
    """The instant the API asks the workflow to report "as of", and the store's "now" for task
    windows and listings. Production uses the system clock (the same as the Temporal server's);
    ARREARS_CLOCK=server, the tests and the simulator use the test server's virtual clock.
    Business decisions still happen only in workflows, on the workflow clock."""
    clock: Clock = request.app.state.clock
    try:
        return await clock()
    except ApiError:
        raise
    except Exception as exc:  # the virtual clock lives on the Temporal server
        raise ApiError(
            503,
            "service_unavailable",
            "The business clock (the Temporal test server's virtual clock) cannot be read; "
            "nothing was accepted, retry.",
        ) from exc


def database_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.effective_database_url


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (tests and the simulator pass their own)."""
    settings: Settings = request.app.state.settings
    return settings


def require_virtual_time(request: Request) -> Settings:
    """The sandbox clock exists only under ARREARS_CLOCK=server: elsewhere time is real and
    nobody may move it, so the endpoints are not there (404)."""
    settings = app_settings(request)
    if not settings.virtual_time:
        raise ApiError(
            404,
            "virtual_time_off",
            "The business clock is the system's (ARREARS_CLOCK=system): there is no virtual "
            "clock to read or advance. Start the stack with `arrears up --virtual-time`.",
        )
    return settings


def advance_lock(request: Request) -> asyncio.Lock:
    """One advance at a time per API process (a second one is told to wait, 409)."""
    lock: asyncio.Lock | None = getattr(request.app.state, "clock_advance", None)
    if lock is None:
        lock = request.app.state.clock_advance = asyncio.Lock()
    return lock
