"""Replayable forever (DESIGN.md): every history committed under tests/histories/ must replay
against the current workflow code. A change to workflow logic that breaks one must be put behind
`workflow.patched` (docs/versioning.md).

The baseline is `1.0`: the histories recorded when the last `workflow.patched` branch was removed
(the pre-1.0 folders v1-v4 were deleted with the old branches they proved). Every folder is
replayed, the AccountWorkflow runs, the child workflows (restructuring, write-off) and the
borrowers' BorrowerWorkflow alike, each against its own workflow class (all in WORKFLOWS),
with the production data converter; payloads are encrypted with the public dev key, as `make
histories` records them."""

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
    # a recording that failed half-way (simulator/histories.py) is not a committed folder
    if not any(part.endswith(".partial") for part in path.relative_to(ROOT).parts)
)
FOLDERS = sorted({path.parent for path in HISTORIES})


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_histories_are_committed() -> None:
    assert HISTORIES, "tests/histories/ holds no recorded histories; run `make histories`"
    assert "1.0" in {folder.name for folder in FOLDERS}


# Every kind of episode the baseline must prove (simulator/histories.py records them).
BASELINE_EPISODES = {
    "paid_on_time",
    "cured_at_dpd_10",
    "promise_broken_then_cured",
    "unpaid_180_days_then_paid",
    "agency_recalled_then_paid",
    "payment_plan_kept",
    "dispute_held_then_released",
    "call_promise_kept",
    "never_paid_skip_traced",
    "restructure_accepted_and_paid",
    "deceased_written_off",
    "attorney_calls_then_released",
}


def test_the_baseline_holds_every_episode_kind_and_both_children() -> None:
    """1.0 covers the ladder, holds, worked calls, a never-paid account, agency and legal,
    attorney representation, and both child workflows (restructure, write-off)."""
    names = {p.name for p in HISTORIES if p.parent.name == "1.0"}
    recorded = {n.split(".run")[0].removeprefix("account-REC-") for n in names}
    assert recorded >= BASELINE_EPISODES
    assert any(n.startswith("restructure-REC-") for n in names)
    assert any(n.startswith("write-off-REC-") for n in names)
    assert any(n.endswith(".run4.json") for n in names), "a chain of continue-as-new runs"


def test_every_committed_history_is_of_a_workflow_the_worker_registers() -> None:
    """A child's history (DebtRestructureWorkflow, WriteOffWorkflow) replays only against its
    own class: a workflow type missing from WORKFLOWS would leave its histories unprovable."""
    registered = {cls.__name__ for cls in WORKFLOWS}
    for path in HISTORIES:
        events = json.loads(path.read_text(encoding="utf-8"))["events"]
        assert events, f"{path}: an empty history proves nothing"
        assert workflow_type_of(_load(path)) in registered, path


def _version(folder: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in folder.name.split("."))
    except ValueError:
        return (0,)


def test_every_folder_recorded_since_borrowers_holds_a_borrower_and_its_two_loans() -> None:
    """From 1.2 on the recorder (simulator/histories.py `borrower_two_loans`) writes a
    multi-loan borrower: the BorrowerWorkflow's history and both of its loans' chains."""
    for folder in FOLDERS:
        if _version(folder) < (1, 2):
            continue
        names = {p.name for p in HISTORIES if p.parent == folder}
        assert "borrower-B-REC-borrower_two_loans.run1.json" in names, folder
        assert "account-REC-borrower_two_loans-2.run1.json" in names, folder


def test_the_replayer_knows_the_borrowers_workflow() -> None:
    assert "BorrowerWorkflow" in {cls.__name__ for cls in WORKFLOWS}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_committed_history_replays_against_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(Settings(ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY)),
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(_load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
