"""The delivery process has no port, so its health is a heartbeat file it touches after every
pass that reached the store: fresh while it works, stale once it is stuck or cut off, and read
by `arrears deliver-events --check` (the compose and Kubernetes health checks)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from activities.event_delivery import (
    HEARTBEAT_FILE,
    DeliveryRound,
    EventDelivery,
    heartbeat_is_fresh,
)
from arrears.cli import app
from core.settings import get_settings


async def _run_passes(delivery: EventDelivery, heartbeat: Path, passes: int = 3) -> None:
    """Let the loop make a few passes (however slow the machine), then stop it."""
    stop = asyncio.Event()
    made = 0
    original = delivery.deliver_once

    async def counted() -> DeliveryRound:
        nonlocal made
        try:
            return await original()
        finally:
            made += 1
            if made >= passes:
                stop.set()

    delivery.deliver_once = counted  # type: ignore[method-assign]
    await asyncio.wait_for(delivery.run(stop, idle=0.01, heartbeat=heartbeat), timeout=60)


async def test_a_pass_that_reaches_the_store_touches_the_heartbeat(
    database_url: str, tmp_path: Path
) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    async with httpx.AsyncClient() as http:
        delivery = EventDelivery(database_url, "http://127.0.0.1:9/none", "secret", http)
        await _run_passes(delivery, heartbeat)
    assert heartbeat_is_fresh(heartbeat)


async def test_a_process_cut_off_from_its_store_never_touches_the_heartbeat(
    tmp_path: Path,
) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    gone = f"sqlite:///{tmp_path / 'no-such-dir' / 'arrears.db'}"
    async with httpx.AsyncClient() as http:
        await _run_passes(EventDelivery(gone, "http://127.0.0.1:9/none", "s", http), heartbeat)
    assert not heartbeat.exists() and not heartbeat_is_fresh(heartbeat)


def test_a_heartbeat_older_than_a_minute_is_stale(tmp_path: Path) -> None:
    heartbeat = tmp_path / HEARTBEAT_FILE
    heartbeat.touch()
    touched = datetime.fromtimestamp(heartbeat.stat().st_mtime, UTC)
    assert heartbeat_is_fresh(heartbeat, now=touched + timedelta(seconds=59))
    assert not heartbeat_is_fresh(heartbeat, now=touched + timedelta(seconds=61))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI reads its settings once per process: point them at this test's directory."""
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_check_command_answers_the_heartbeats_freshness(data_dir: Path) -> None:
    tmp_path = data_dir
    runner = CliRunner()
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 1
    heartbeat = tmp_path / HEARTBEAT_FILE
    heartbeat.touch()
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 0
    an_hour_ago = heartbeat.stat().st_mtime - 3600
    os.utime(heartbeat, (an_hour_ago, an_hour_ago))
    assert runner.invoke(app, ["deliver-events", "--check"]).exit_code == 1
