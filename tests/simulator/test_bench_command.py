"""The simulator's benchmark runs as an `arrears` command (the one place that may put the API
and the worker together, DESIGN.md); `python -m bench.simulate` is that command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_bench_simulate_is_the_arrears_dev_bench_simulate_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.simulate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "arrears.cli dev bench-simulate" in done.stdout
    for option in ("--accounts", "--days", "--seed", "--worker-processes"):
        assert option in done.stdout
