"""`arrears simulate` on a small portfolio, champion `default` against challenger `front_light`:
the real workflows, activities, API and sandbox gateway on the simulator's own time-skipping
server. One run is shared by the checks below; a second run with the same seed proves
reproducibility."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from domain.scoreboard import SCOREBOARD_STATUSES
from simulator.run import reproducible_view, simulate
from simulator.stack import Processes
from worker.main import build_worker

ACCOUNTS = 50
DAYS = 50
SEED = 11
STRATEGIES = ("default", "front_light")


async def _run(out: Path, worker_processes: int = 1) -> dict[str, Any]:
    processes = Processes(
        app=create_app,
        worker=build_worker,
        worker_command=(sys.executable, "-m", "arrears.cli", "worker"),
    )
    return await simulate(
        out,
        ACCOUNTS,
        DAYS,
        STRATEGIES,
        split=50,
        seed=SEED,
        processes=processes,
        worker_processes=worker_processes,
    )


@pytest.fixture(scope="module")
async def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("simulation")
    return out, await _run(out)


def _portfolio_and_arms(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [summary, *summary["arms"].values()]


async def test_every_account_ends_in_exactly_one_state(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    assert summary["accounts"] == ACCOUNTS
    for section in _portfolio_and_arms(summary):
        assert sum(section["final_states"].values()) == section["accounts"]
        assert "not_started" not in section["final_states"]
        assert sum(section["final_scoreboard_status"].values()) == section["accounts"]
    arms = summary["arms"]
    assert arms["champion"]["accounts"] + arms["challenger"]["accounts"] == ACCOUNTS


async def test_roll_rate_rows_sum_to_the_accounts_in_that_bucket_at_the_earlier_boundary(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    for section in _portfolio_and_arms(summary):
        roll = section["roll_rates"]
        boundaries = [datetime.fromisoformat(b) for b in roll["boundaries"]]
        assert len(boundaries) >= 3  # run start, the month end inside 50 days, run end
        for status in SCOREBOARD_STATUSES:
            assert sum(roll["counts"][status].values()) == roll["totals"][status]
        # Every account is in exactly one status at each earlier boundary.
        assert sum(roll["totals"].values()) == section["accounts"] * (len(boundaries) - 1)
        assert roll["totals"]["current"] >= section["accounts"]  # all current at the start


async def test_no_contact_the_run_made_breaks_a_contact_rule(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    assert summary["compliance_violations"] == 0, summary["violations"]
    # The default portfolio has repeat borrowers (multi_loan_share 0.2), each person's loans in
    # one arm (domain/arms.py: the experiment's unit is the person), judged per person too.
    assert summary["multi_loan_borrowers"] > 0
    assert summary["compliance_violations_by_borrower"] == 0
    assert sum(summary["contacts_by_channel"].values()) > ACCOUNTS
    hours = {int(h): n for h, n in summary["contacts_by_hour"].items() if n}
    assert all(8 <= h < 22 for h in hours)  # inside the CN contact window


async def test_the_summary_and_the_charts_are_written(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = first_run
    assert json.loads((out / "summary.json").read_text()) == summary
    for chart in ("roll_rates.png", "cure_curve.png", "contacts_by_hour.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for section in _portfolio_and_arms(summary):
        assert section["history_events_per_episode"]
        assert section["ptp"]["made"] > 0
        assert section["amount_recovered"] != "0"


async def test_more_front_end_effort_cures_more_m1_accounts(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    champion, challenger = summary["arms"]["champion"], summary["arms"]["challenger"]
    assert (champion["strategy"], challenger["strategy"]) == STRATEGIES
    m1_full = champion["cure_rate_by_bucket"]["M1"]
    m1_light = challenger["cure_rate_by_bucket"]["M1"]
    assert m1_full["entered"] >= 10 and m1_light["entered"] >= 10
    assert m1_full["rate"] > m1_light["rate"], (m1_full, m1_light)


async def test_the_same_seed_gives_the_same_summary(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, summary = first_run
    again = await _run(tmp_path)
    assert reproducible_view(again) == reproducible_view(summary)


@pytest.mark.skipif(
    os.environ.get("ARREARS_TEST_WORKER_PROCESSES") != "1",
    reason="opt-in (ARREARS_TEST_WORKER_PROCESSES=1): one 300-account run on two worker "
    "processes stalled for good on the shared machine, not yet understood (issue 19)",
)
async def test_the_same_seed_gives_the_same_summary_on_two_worker_processes(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, summary = first_run
    again = await _run(tmp_path, worker_processes=2)
    assert reproducible_view(again) == reproducible_view(summary)
    # The second process really took a share of the run, not just its start-up.
    timings = again["timings"]
    assert timings["worker_processes"] == 2
    assert timings["extra_worker_workflow_tasks"][0] > 0, timings
    assert timings["extra_worker_activities"][0] > 0, timings
