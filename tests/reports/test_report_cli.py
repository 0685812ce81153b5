"""`arrears report`: the same scoreboard as the API, from the store, in the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from arrears.cli import app
from arrears.report_cli import default_start
from core.settings import get_settings
from tests.conftest import SUPERVISOR
from tests.reports.test_reports_api import DECEMBER_JANUARY, portfolio


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "220")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_report_prints_the_roll_rate_matrix_and_cure_rates_per_arm(
    cli: CliRunner, database_url: str
) -> None:
    portfolio(database_url)
    result = cli.invoke(app, ["report", "--from", "2026-12-01", "--to", "2027-01-31"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "month ends: 2026-11-30, 2026-12-31, 2027-01-31" in out
    assert "roll rates — overall" in out
    assert "roll rates — champion (default@1)" in out
    assert "roll rates — challenger (front_light@1)" in out
    m1 = next(line for line in out.splitlines() if line.strip("│ ").startswith("M1 "))
    assert "40.0% (2)" in m1 and m1.rstrip("│ ").endswith("5")  # 2 of 5 M1 accounts cured
    assert "cure rate from M1" in out and "became delinquent" in out


async def test_report_json_is_the_apis_two_bodies(
    cli: CliRunner, database_url: str, reports_api: httpx.AsyncClient
) -> None:
    portfolio(database_url)
    result = cli.invoke(
        app, ["report", "--from", "2026-12-01", "--to", "2027-01-31", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    for key, path in (("roll_rates", "roll-rates"), ("cure_rates", "cure-rates")):
        answer = await reports_api.get(f"/v1/reports/{path}?{DECEMBER_JANUARY}", headers=SUPERVISOR)
        assert printed[key] == answer.json()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2027-01-01", "--to", "2026-12-31"], "after --to"),
        (["--from", "1 Dec"], "--from must be a date"),
        (["--format", "xml"], "--format must be table or json"),
        (["--tz", "Mars/Olympus"], "not a known IANA time zone"),
    ],
)
def test_report_refuses_bad_options_with_one_line(
    cli: CliRunner, args: list[str], message: str
) -> None:
    result = cli.invoke(app, ["report", *args])
    assert result.exit_code == 1
    assert message in result.output


def test_the_default_period_covers_three_complete_months_before_the_current_one() -> None:
    assert default_start(date(2026, 11, 28)) == date(2026, 8, 1)
    assert default_start(date(2027, 1, 31)) == date(2026, 10, 1)
