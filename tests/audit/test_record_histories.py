"""`make histories` (`arrears dev record-histories`, simulator/histories.py): a new versioned
folder of recorded episodes, never written over an old one, complete or absent, and every file
in it replays."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

import simulator.histories as histories
from api.app import create_app
from audit.replay import load_histories, replay_histories
from core.settings import DEV_PAYLOAD_KEY, Settings
from simulator.stack import Processes
from worker.main import build_worker


@pytest.fixture(scope="module")
def recorder() -> ModuleType:
    return histories


@pytest.fixture(scope="module")
def processes() -> Processes:
    return Processes(app=create_app, worker=build_worker)


async def test_recording_refuses_a_version_folder_that_already_exists(
    recorder: ModuleType, processes: Processes, tmp_path: Path
) -> None:
    old = tmp_path / "v3"
    old.mkdir()
    (old / "kept.json").write_text("{}")
    with pytest.raises(SystemExit, match="never overwritten"):
        await recorder.record("v3", processes, root=tmp_path, names=["paid_on_time"])
    assert [p.name for p in old.iterdir()] == ["kept.json"]
    assert not (tmp_path / "v3.partial").exists()


async def test_a_recording_that_fails_leaves_no_version_folder_behind(
    recorder: ModuleType, processes: Processes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(rig: object, loan: str, due: date) -> None:
        raise recorder.RecordingError("scripted failure")

    monkeypatch.setitem(recorder.EPISODES, "broken", broken)
    with pytest.raises(recorder.RecordingError):
        await recorder.record("v9", processes, root=tmp_path, names=["broken"])
    assert not (tmp_path / "v9").exists()


async def test_one_recorded_episode_replays_and_holds_no_borrower_data_in_clear(
    recorder: ModuleType, processes: Processes, tmp_path: Path
) -> None:
    files = await recorder.record("v9", processes, root=tmp_path, names=["paid_on_time"])
    folder = tmp_path / "v9"
    assert [p.name for p in sorted(folder.iterdir())] == ["account-REC-paid_on_time.run1.json"]
    assert files == sorted(folder.iterdir())
    assert not (tmp_path / "v9.partial").exists()

    report = await replay_histories(
        load_histories([folder]), Settings(ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY)
    )
    assert report.outcomes and not report.failed

    document = json.loads(files[0].read_text())
    start = document["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = start["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
    data = base64.b64decode(payload["data"])
    assert b"Test Borrower" not in data and b"+8613800138000" not in data


async def test_the_borrower_episode_records_both_loans_and_the_borrowers_authority_and_replays(
    recorder: ModuleType, processes: Processes, tmp_path: Path
) -> None:
    """Issue 16: the recorder's multi-loan episode writes the BorrowerWorkflow's own history
    beside its two loans, and every file replays against the current code (the replayer
    registers BorrowerWorkflow with the other workflows)."""
    await recorder.record("v9", processes, root=tmp_path, names=["borrower_two_loans"])
    names = sorted(p.name for p in (tmp_path / "v9").iterdir())
    assert "account-REC-borrower_two_loans.run1.json" in names
    assert "account-REC-borrower_two_loans-2.run1.json" in names
    assert "borrower-B-REC-borrower_two_loans.run1.json" in names
    borrower = json.loads(
        (tmp_path / "v9" / "borrower-B-REC-borrower_two_loans.run1.json").read_text()
    )
    kinds = {e["eventType"] for e in borrower["events"]}
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED" in kinds
    assert "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED" in kinds  # passed on

    report = await replay_histories(
        load_histories([tmp_path / "v9"]), Settings(ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY)
    )
    assert len(report.outcomes) == len(names) and not report.failed
