"""`arrears replay` (issue 8): one line per history, a summary counting histories and events,
and a non-zero exit naming the first nondeterministic event and what differed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.cli import app
from core import logmask

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Every `arrears` command installs the PII log masker; keep it out of the other tests."""
    yield
    logmask.uninstall()


def test_replay_of_the_committed_histories_prints_one_ok_line_each_and_a_summary() -> None:
    files = sorted(HISTORIES.rglob("*.json"))
    events = sum(len(json.loads(f.read_text())["events"]) for f in files)
    result = runner.invoke(app, ["replay", "--dir", str(HISTORIES)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["ok", f.stem] for f in files]
    summary = re.fullmatch(
        r"replayed (\d+) histories, (\d+) events in [\d.]+ s: (\d+) ok, 0 failed", lines[-1]
    )
    assert summary is not None, lines[-1]
    assert summary.groups() == (str(len(files)), str(events), str(len(files)))


def test_a_history_the_current_code_would_not_produce_fails_naming_the_event_and_the_difference(
    tmp_path: Path,
) -> None:
    """An old deployment scheduled a different activity at this moment (simulated by renaming it
    in a committed history): replay must refuse and point at that very event."""
    baseline = HISTORIES / "1.0"
    original = json.loads((baseline / "account-REC-cured_at_dpd_10.run1.json").read_text())
    scheduled = [
        e for e in original["events"] if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    ]
    changed = scheduled[1]
    changed["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "notify_loan_system"
    (tmp_path / "changed.json").write_text(json.dumps(original))
    (tmp_path / "same.json").write_text(
        (baseline / "account-REC-paid_on_time.run1.json").read_text()
    )

    result = runner.invoke(app, ["replay", str(tmp_path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("FAIL") and "changed" in lines[0]
    assert f"event {changed['eventId']} ACTIVITY_TASK_SCHEDULED" in lines[0]
    assert "'notify_loan_system'" in lines[0] and "'apply_moment'" in lines[0]
    assert lines[1].startswith("ok") and "same" in lines[1]
    assert lines[-1].endswith("1 ok, 1 failed")


def test_replay_with_nothing_to_replay_is_an_error_not_a_silent_success(tmp_path: Path) -> None:
    assert runner.invoke(app, ["replay"]).exit_code == 1
    empty = runner.invoke(app, ["replay", "--dir", str(tmp_path)])
    assert empty.exit_code == 1 and "no histories" in empty.output
    missing = runner.invoke(app, ["replay", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "nope.json" in missing.output
