"""A strategy whose message templates cannot be sent as written is refused where it is loaded for
use — at worker start and when the API is about to start accounts under it — not at some
account's first SMS; and "fits its segments" is judged with the longest opt-out instruction
any shipped contact profile appends."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

import domain.strategy as strategies
import worker.main as worker_main
from activities.channels.templates import (
    OPT_OUT_SAMPLE,
    longest_opt_out_text,
    validate_strategy_templates,
)
from core.settings import Settings
from domain.contact import profile as contact_profiles
from domain.policy import PolicyRegistry
from domain.strategy import StrategyError, load_strategy
from tests.conftest import LOAN_SYSTEM
from tests.workflows.helpers import account_json, business_today

LONG_OPT_OUT = (
    "To stop receiving text messages about this account from us, reply STOP. To start them "
    "again, reply START. For help, reply HELP or call the number in your agreement."
)


def _strategies_with_max_segments(tmp_path: Path, segments: int) -> Path:
    folder = tmp_path / "strategies"
    shutil.copytree(strategies.STRATEGIES_DIR, folder)
    default = folder / "default.yaml"
    raw = yaml.safe_load(default.read_text(encoding="utf-8"))
    raw["max_sms_segments"] = segments
    default.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_template_must_fit_with_the_longest_opt_out_text_a_shipped_profile_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert longest_opt_out_text() == max(
        [OPT_OUT_SAMPLE, "Reply STOP to opt out."], key=len
    )  # what ships today
    folder = tmp_path / "contact_profiles"
    shutil.copytree(contact_profiles.PROFILES_DIR, folder)
    profile = folder / "us-regf.yaml"
    raw = yaml.safe_load(profile.read_text(encoding="utf-8"))
    raw["sms_opt_out_text"] = LONG_OPT_OUT
    profile.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(contact_profiles, "PROFILES_DIR", folder)

    assert longest_opt_out_text() == LONG_OPT_OUT
    with pytest.raises(StrategyError) as info:
        validate_strategy_templates(load_strategy("default"))
    assert "more than max_sms_segments 3" in str(info.value)


def test_the_worker_refuses_to_start_with_a_strategy_whose_texts_are_too_long(
    tmp_path: Path, policy_dir: Path
) -> None:
    """The worker checks the strategies of its policy directory (ARREARS_POLICY_DIR), the ones
    episodes pin, not the repository's."""
    served = tmp_path / "policy"
    shutil.copytree(policy_dir, served)
    shutil.rmtree(served / "strategies")
    shutil.copytree(_strategies_with_max_segments(tmp_path, 1), served / "strategies")

    with pytest.raises(StrategyError) as info:
        worker_main.check_strategy_templates(PolicyRegistry.load(served))

    assert "more than max_sms_segments 1" in str(info.value)


async def test_the_api_answers_503_instead_of_starting_accounts_under_a_strategy_with_broken_texts(
    api: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
) -> None:
    # The strategy file was edited on disk after the API started: too many segments for its own
    # limit. No account may start under it.
    shipped = settings.policy_dir / "strategies" / "default.yaml"
    original = shipped.read_text(encoding="utf-8")
    edited = _strategies_with_max_segments(tmp_path, 1) / "default.yaml"
    shipped.write_text(edited.read_text(encoding="utf-8"), encoding="utf-8")
    due = await business_today(workflow_env)
    try:
        response = await api.post(
            "/v1/accounts", json=account_json("L-BROKEN-STRATEGY", due), headers=LOAN_SYSTEM
        )
    finally:
        shipped.write_text(original, encoding="utf-8")

    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "strategy_unavailable"
    assert "has unusable templates" in error["message"]
    assert "more than max_sms_segments 1" in error["message"]
