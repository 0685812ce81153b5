"""Replayable forever (DESIGN.md): every history committed under tests/histories/ must replay
against the current workflow code. A change to workflow logic that breaks one must be put behind
`workflow.patched`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import workflow_runner
from workflows import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("**/*.json"))


def test_histories_are_committed() -> None:
    assert HISTORIES, "tests/histories/ holds no recorded histories; run `make histories`"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_committed_history_replays_against_current_code(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
