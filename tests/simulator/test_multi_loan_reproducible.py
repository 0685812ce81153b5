"""Multi-loan borrowers in the simulator (issue 16): the same seed gives the same summary twice,
and no contact breaks a rule for the person across their loans. A borrower's loans share one
contact authority, so which loan's request reached it first decided who got the borrower's last
allowed contact; the simulator now drives one borrower's loans in turn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from api.app import create_app
from simulator.run import reproducible_view, simulate
from simulator.stack import Processes
from worker.main import build_worker

ACCOUNTS = 30
DAYS = 40
SEED = 11
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "multi_loan.yaml"


async def _run(out: Path) -> dict[str, Any]:
    processes = Processes(
        app=create_app,
        worker=build_worker,
        worker_command=(sys.executable, "-m", "arrears.cli", "worker"),
    )
    return await simulate(
        out, ACCOUNTS, DAYS, seed=SEED, scenario=SCENARIO, charts=False, processes=processes
    )


async def test_the_same_seed_gives_the_same_summary_with_multi_loan_borrowers(
    tmp_path: Path,
) -> None:
    first = await _run(tmp_path / "first")
    assert first["multi_loan_borrowers"] > 0
    assert first["compliance_violations"] == 0, first["violations"]
    assert first["compliance_violations_by_borrower"] == 0, first["borrower_violations"]
    again = await _run(tmp_path / "again")
    assert reproducible_view(again) == reproducible_view(first)
