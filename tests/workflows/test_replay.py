"""Replayable forever (DESIGN.md): every history committed under tests/histories/ must replay
against the current workflow code. A change to workflow logic that breaks one must be put behind
`workflow.patched`.

Every folder is replayed, the AccountWorkflow runs and the child workflows (restructuring,
write-off) alike, each against its own workflow class, with the production data converter: the
older folders hold plain payloads (recorded before the PII codec), the newer ones payloads
encrypted with the public dev key, as `make histories` records them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from audit.export import workflow_type_of
from core.settings import DEV_PAYLOAD_KEY, Settings
from core.temporal import data_converter
from worker.main import workflow_runner
from workflows import WORKFLOWS

ROOT = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(
    path
    for path in ROOT.glob("**/*.json")
    # a recording that failed half-way (scripts/record_histories.py) is not a committed folder
    if not any(part.endswith(".partial") for part in path.relative_to(ROOT).parts)
)
FOLDERS = sorted({path.parent for path in HISTORIES})


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_histories_are_committed() -> None:
    assert HISTORIES, "tests/histories/ holds no recorded histories; run `make histories`"
    assert {"v1", "v2", "v3"} <= {folder.name for folder in FOLDERS}


def test_every_committed_history_is_of_a_workflow_the_worker_registers() -> None:
    """A child's history (DebtRestructureWorkflow, WriteOffWorkflow) replays only against its
    own class: a workflow type missing from WORKFLOWS would leave its histories unprovable."""
    registered = {cls.__name__ for cls in WORKFLOWS}
    for path in HISTORIES:
        events = json.loads(path.read_text(encoding="utf-8"))["events"]
        assert events, f"{path}: an empty history proves nothing"
        assert workflow_type_of(_load(path)) in registered, path


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_committed_history_replays_against_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(Settings(ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY)),
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(_load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
