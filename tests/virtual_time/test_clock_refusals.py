"""Where there is no virtual clock, nobody may pretend there is: a process given
ARREARS_CLOCK=server against a real Temporal (the dev server) refuses to start in one line, and
an API on the system clock has no sandbox clock (404)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from tests.conftest import SUPERVISOR, _free_port

BIN = Path(sys.executable).parent


def _run(command: list[str], temporal: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        TEMPORAL_ADDRESS=temporal,
        ARREARS_CLOCK="server",
        DATABASE_URL=f"sqlite:///{workdir / 'arrears.db'}",
        ARREARS_DATA_DIR=str(workdir / "data"),
    )
    return subprocess.run(
        [str(BIN / "arrears"), *command],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["api", "--port", "0"], ["worker"]])
def test_a_process_refuses_the_server_clock_against_a_temporal_that_is_not_time_skipping(
    dev_server: str, tmp_path: Path, command: list[str]
) -> None:
    if command[0] == "api":
        command = ["api", "--port", str(_free_port())]
    result = _run(command, dev_server, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # One error line; the JSON log lines beside it (e.g. "connecting to Temporal at ...") are the
    # process's log, not its answer.
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")
    ]
    assert len(lines) == 1, result.stderr
    assert "ARREARS_CLOCK=server" in lines[0] and "time-skipping" in lines[0]
    assert dev_server in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


async def test_the_sandbox_clock_does_not_exist_on_the_system_clock(settings: Settings) -> None:
    assert not settings.virtual_time
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as api:
        read = await api.get("/v1/sandbox/clock", headers=SUPERVISOR)
        moved = await api.post("/v1/sandbox/clock/advance", json={"days": 1}, headers=SUPERVISOR)
    for answer in (read, moved):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "virtual_time_off"
