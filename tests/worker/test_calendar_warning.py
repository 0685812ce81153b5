"""The worker warns loudly at start when an active region has no public-holiday calendar for a
day in the next 60: operators must add the file before the gate falls back to statutory days."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import pytest

from core.settings import Settings
from domain.policy import POLICY_DIR
from worker.policy import load_policy

# load_policy installs the registry and the calendars it loads; the autouse `pinned_calendars`
# fixture (tests/conftest.py) puts the tests' own back afterwards.


@pytest.fixture
def policy_without_us_ma_2028(tmp_path: Path) -> Path:
    """The shipped policy directory with Massachusetts's 2028 calendar taken out."""
    policy = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy)
    (policy / "calendars" / "US-MA" / "2028.yaml").unlink()
    return policy


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "worker.policy" and r.levelno == logging.WARNING
    ]


def test_a_region_missing_next_years_calendar_within_sixty_days_is_warned_at_start_naming_the_file(
    database_url: str, policy_without_us_ma_2028: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(DATABASE_URL=database_url, ARREARS_POLICY_DIR=policy_without_us_ma_2028)
    with caplog.at_level(logging.WARNING, logger="worker.policy"):
        load_policy(settings, today=date(2027, 11, 15))  # 60 days reach 2028-01-14

    warned = [w for w in _warnings(caplog) if "US-MA 2028" in w]
    assert len(warned) == 1, _warnings(caplog)
    assert "NO PUBLIC-HOLIDAY CALENDAR for US-MA 2028 in the next 60 days" in warned[0]
    assert f"Add {settings.calendars_dir}/US-MA/2028.yaml" in warned[0]
    # The federal US calendar for 2028 is there: no warning for it.
    assert not [w for w in _warnings(caplog) if "for US 2028" in w]


def test_a_missing_calendar_more_than_sixty_days_ahead_is_not_warned_yet(
    database_url: str, policy_without_us_ma_2028: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(DATABASE_URL=database_url, ARREARS_POLICY_DIR=policy_without_us_ma_2028)
    with caplog.at_level(logging.WARNING, logger="worker.policy"):
        load_policy(settings, today=date(2027, 10, 1))  # 60 days reach 2027-11-30

    assert not [w for w in _warnings(caplog) if "US-MA" in w], _warnings(caplog)
