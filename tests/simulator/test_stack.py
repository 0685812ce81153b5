"""The simulator's stack sizes its worker for the run: an evicted account replays its whole
history at every task (issue 19), so the workflow cache holds every account the run opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from simulator.stack import Processes, sim_stack
from worker.main import build_worker

PROCESSES = Processes(app=create_app, worker=build_worker)


async def test_the_simulators_worker_caches_every_account_the_run_opens(tmp_path: Path) -> None:
    async with sim_stack(tmp_path, PROCESSES, accounts=3000) as stack:
        cached = stack.worker.config().get("max_cached_workflows")
    assert cached is not None and cached >= 3000 + 3000 // 4


async def test_a_cache_size_set_for_the_simulator_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_WORKER_CACHE_SIZE", "123")
    async with sim_stack(tmp_path, PROCESSES, accounts=3000) as stack:
        assert stack.worker.config().get("max_cached_workflows") == 123
