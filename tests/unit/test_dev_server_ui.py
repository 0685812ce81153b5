"""The Web UI of `arrears up` (issue 21 item 1): the dev server's UI cannot be made read-only
(`temporal server start-dev` has no switch for its write actions), so `arrears up` starts the
dev server headless; `arrears up --ui` serves the UI on loopback and says plainly that it can
write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from arrears import cli, stack
from arrears.stack import UI_PORT, _print_banner, dev_server_argv
from core.settings import Settings

TEMPORAL = Path("/venv/bin/temporal")


def test_by_default_the_dev_server_runs_without_its_web_ui(tmp_path: Path) -> None:
    argv = dev_server_argv(Settings(), TEMPORAL, tmp_path, 7233)
    assert "--headless" in argv
    assert not any(arg.startswith("--ui") for arg in argv), argv


def test_asked_for_the_web_ui_is_served_on_loopback_with_our_codec(tmp_path: Path) -> None:
    argv = dev_server_argv(Settings(), TEMPORAL, tmp_path, 7233, ui=True)
    assert "--headless" not in argv
    assert argv[argv.index("--ui-port") + 1] == str(UI_PORT)
    assert argv[argv.index("--ip") + 1] == "127.0.0.1"  # the UI binds where the server does
    assert "--ui-ip" not in argv
    assert argv[argv.index("--ui-codec-endpoint") + 1].endswith("/codec")


@pytest.mark.parametrize(("args", "ui"), [(["up"], False), (["up", "--ui"], True)])
def test_the_ui_is_opt_in_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, args: list[str], ui: bool
) -> None:
    seen: dict[str, Any] = {}

    def run_stack(_settings: Settings, _console: Console, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr(stack, "run_stack", run_stack)
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert seen == {"virtual_time": False, "ui": ui}


@pytest.mark.parametrize("ui", [False, True])
def test_the_banner_warns_that_the_ui_can_write_only_when_it_runs(ui: bool) -> None:
    console = Console(record=True, width=200)
    _print_banner(console, Settings(), "127.0.0.1", False, [], ui=ui)
    text = console.export_text()
    assert ("The Temporal Web UI can write" in text) is ui
    assert (f"http://127.0.0.1:{UI_PORT}" in text) is ui
    if not ui:
        assert "arrears up --ui" in text
