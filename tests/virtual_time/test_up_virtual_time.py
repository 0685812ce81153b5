"""`arrears up --virtual-time` as a lender starts it: the stack comes up on the time-skipping
test server, says plainly that its clock is virtual and that nothing persists, lets a supervisor
move the clock, and a restart really does start empty. Needs the stack's fixed ports, like
tests/test_stack.py."""

from __future__ import annotations

import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import httpx

from tests.test_stack import BIN, KEYS, SUPERVISOR, _require_the_stack_ports, _stop, _wait_healthy
from tests.workflows.helpers import account_json

API = "http://127.0.0.1:8000"


def _start_virtual(workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "ARREARS_CLOCK") and not k.startswith("TWILIO_")
    }
    return subprocess.Popen(
        [str(BIN / "arrears"), "up", "--virtual-time"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_up_with_virtual_time_says_so_moves_its_clock_and_keeps_nothing_across_restarts(
    tmp_path: Path,
) -> None:
    _require_the_stack_ports()
    first = _start_virtual(tmp_path)
    try:
        _wait_healthy(first)
        before = httpx.get(f"{API}/v1/sandbox/clock", headers=SUPERVISOR, timeout=10)
        assert before.status_code == 200, before.text
        created = httpx.post(
            f"{API}/v1/accounts",
            json=account_json(
                "L-VT-UP", date.fromisoformat(before.json()["now"][:10]) + timedelta(days=2)
            ),
            headers=KEYS,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        moved = httpx.post(
            f"{API}/v1/sandbox/clock/advance", json={"days": 3}, headers=SUPERVISOR, timeout=60
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["now"] > before.json()["now"]
        assert moved.json()["now"][:10] > before.json()["now"][:10]
    finally:
        output = _stop(first)
    assert "arrears is up (virtual time)" in output
    assert "VIRTUAL" in output and "NOTHING PERSISTS across restarts" in output
    assert "time-skipping test server" in output

    second = _start_virtual(tmp_path)
    try:
        _wait_healthy(second)
        gone = httpx.get(f"{API}/v1/accounts/L-VT-UP", headers=KEYS, timeout=30)
        assert gone.status_code == 404, gone.text
    finally:
        _stop(second)
