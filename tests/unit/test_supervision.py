"""`arrears up` supervises its children (issue 21, item 9): one that dies is started again after
1, 2, 4, ... s and the output says so; one that keeps dying, or the in-memory test server whose
restart would lose everything, stops the stack naming its log."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from arrears.preflight import PreflightError
from arrears.stack import RESTART_LIMIT, Child, Stack
from core.settings import Settings


class _Dead:
    """A child process that has exited with `code`."""

    def __init__(self, code: int = -9) -> None:
        self.returncode = code

    def poll(self) -> int:
        return self.returncode


def _stack(tmp_path: Path, restartable: bool = True) -> tuple[Stack, io.StringIO]:
    out = io.StringIO()
    stack = Stack(Settings(ARREARS_DATA_DIR=tmp_path), Console(file=out, width=200))
    child = Child("worker", ["worker"], tmp_path / "worker.log", _Dead(), restartable)  # type: ignore[arg-type]
    stack.children.append(child)
    return stack, out


def test_a_dead_child_is_restarted_after_a_growing_wait_and_the_output_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, out = _stack(tmp_path)
    started: list[Any] = []

    def start(argv: list[str], log: Path) -> _Dead:
        started.append(argv)
        return _Dead()

    monkeypatch.setattr(stack, "_start", start)
    stack.supervise(0.0)  # noticed: restart in 1 s
    stack.supervise(0.5)  # not yet
    assert started == []
    stack.supervise(1.0)
    assert started == [["worker"]]
    stack.supervise(1.5)  # died again: the second wait is 2 s
    stack.supervise(3.0)
    assert len(started) == 1
    stack.supervise(3.5)
    assert len(started) == 2
    text = out.getvalue()
    assert "worker exited with code -9; restarting in 1 s" in text
    assert "restarting in 2 s" in text and "worker restarted" in text


def test_a_child_that_keeps_dying_stops_the_stack_naming_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, _ = _stack(tmp_path)
    monkeypatch.setattr(stack, "_start", lambda argv, log: _Dead(1))
    now = 0.0
    with pytest.raises(PreflightError, match=f"giving up after {RESTART_LIMIT} restart"):
        for _ in range(100):
            stack.supervise(now)
            now += 31.0


def test_the_in_memory_test_server_is_never_restarted(tmp_path: Path) -> None:
    stack, _ = _stack(tmp_path, restartable=False)
    with pytest.raises(PreflightError, match="cannot be restarted: state is lost"):
        stack.supervise(0.0)
