"""The simulator's extra worker processes (simulator/worker_processes.py) read the run's settings
back exactly from their environment, and their work is counted from their own metrics page."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import Settings
from simulator.stack import Processes, sim_stack
from simulator.worker_processes import ACTIVITIES, WORKFLOW_TASKS, _count_of, environment_of
from worker.main import build_worker


def test_a_child_process_reads_back_the_settings_it_was_given(tmp_path: Path) -> None:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'arrears.db'}",
        ARREARS_TASK_QUEUE="simulate-1234",
        ARREARS_DATA_DIR=tmp_path / "data",
        ARREARS_PAYLOAD_KEY=SecretStr("k1:" + "A" * 43 + "="),
        ARREARS_CHALLENGER="front_light",
        ARREARS_CHALLENGER_SPLIT=30,
        ARREARS_WORKER_CACHE_SIZE=1350,
        ARREARS_ALLOW_DEV_KEY=True,
    )
    env = environment_of(settings)
    assert env["ARREARS_PAYLOAD_KEY"] == "k1:" + "A" * 43 + "="
    assert env["ARREARS_ALLOW_DEV_KEY"] == "true"
    assert "TEMPORAL_API_KEY" not in env  # unset stays unset
    assert Settings(**env) == settings  # type: ignore[arg-type]


def test_the_work_of_a_process_is_the_count_of_its_task_histograms() -> None:
    page = "\n".join(
        [
            "# TYPE temporal_workflow_task_execution_latency histogram",
            f'{WORKFLOW_TASKS}_bucket{{le="0.1"}} 7',
            f'{WORKFLOW_TASKS}_count{{workflow_type="AccountWorkflow"}} 12',
            f'{WORKFLOW_TASKS}_count{{workflow_type="WriteOffWorkflow"}} 3',
            f'{ACTIVITIES}_seconds_count{{activity_type="send_sms"}} 40',
            f'{ACTIVITIES}_sum{{activity_type="send_sms"}} 1.5',
        ]
    )
    assert _count_of(page, WORKFLOW_TASKS) == 15
    assert _count_of(page, ACTIVITIES) == 40
    assert _count_of("", ACTIVITIES) == 0


async def test_several_worker_processes_need_the_command_that_starts_one(tmp_path: Path) -> None:
    without_command = Processes(app=create_app, worker=build_worker)
    with pytest.raises(ValueError, match="worker_command"):
        async with sim_stack(tmp_path, without_command, worker_processes=2):
            pass
