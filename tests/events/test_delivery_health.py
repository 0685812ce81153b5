"""The delivery process has no port, so its health is a heartbeat file it touches after every
pass that reached the store: fresh while it works, stale once it is stuck or cut off, and read
by `arrears deliver-events --check` (the compose and Kubernetes health checks)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from activities.event_delivery import HEARTBEAT_FILE, EventDelivery, heartbeat_is_fresh
from arrears.cli import app


async def _run_for_a_moment(delivery: EventDelivery, heartbeat: Path) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(delivery.run(stop, idle=0.05, heartbeat=heartbeat))
    await asyncio.sleep(0.3)
    stop.set()
    await running


async def test_a_pass_that_reaches_the_store_touches_the_heartbeat(
    database_url: str, tmp_path: Path
) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    async with httpx.AsyncClient() as http:
        delivery = EventDelivery(database_url, "http://127.0.0.1:9/none", "secret", http)
        await _run_for_a_moment(delivery, heartbeat)
    assert heartbeat_is_fresh(heartbeat)


async def test_a_process_cut_off_from_its_store_never_touches_the_heartbeat(
    tmp_path: Path,
) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    gone = f"sqlite:///{tmp_path / 'no-such-dir' / 'arrears.db'}"
    async with httpx.AsyncClient() as http:
        await _run_for_a_moment(
            EventDelivery(gone, "http://127.0.0.1:9/none", "s", http), heartbeat
        )
    assert not heartbeat.exists() and not heartbeat_is_fresh(heartbeat)


def test_a_heartbeat_older_than_a_minute_is_stale(tmp_path: Path) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    heartbeat.touch()
    touched = datetime.fromtimestamp(heartbeat.stat().st_mtime, UTC)
    assert heartbeat_is_fresh(heartbeat, now=touched + timedelta(seconds=59))
    assert not heartbeat_is_fresh(heartbeat, now=touched + timedelta(seconds=61))


def test_the_check_command_answers_the_heartbeats_freshness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 1
    heartbeat = tmp_path / HEARTBEAT_FILE
    heartbeat.touch()
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 0
    an_hour_ago = heartbeat.stat().st_mtime - 3600
    os.utime(heartbeat, (an_hour_ago, an_hour_ago))
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 1
