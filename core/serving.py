"""An ASGI app served by uvicorn on the caller's event loop, for the tests and the simulator.

They need a real HTTP listener (the Twilio SDK, schemathesis and status callbacks speak HTTP to
it) but must stay in one process with the time-skipping server and the worker, and Ctrl-C must
still stop the caller, so uvicorn's own signal handlers are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import uvicorn

__all__ = ["listening_socket", "serve_in_background", "url_of"]


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the caller owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1. Bound before the app exists, because some
    apps (the sandbox gateway) must know their own address when they are built."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.asynccontextmanager
async def serve_in_background(
    app: Any,
    sock: socket.socket | None = None,
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> AsyncIterator[str]:
    """Serve `app` on `sock` (a fresh one when None) until the block ends; yields its URL.

    A server that fails to start raises here instead of leaving the caller waiting. The socket
    is closed on exit only when this function made it: a caller's socket may be reused.
    """
    own = sock is None
    listener = listening_socket() if sock is None else sock
    server = _QuietServer(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield url_of(listener)
    finally:
        server.should_exit = True
        await task
        if own:
            listener.close()
