"""Call scripts are policy data (policy/scripts/call.yaml, issue 15): the shipped file loads,
covers every contact profile at every collection stage in English and Chinese, and US accounts
get Regulation F's wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.desk.scripts import load_scripts, script_for
from domain.policy import POLICY_DIR

STAGES = ("front_end", "mid_range", "hard_core", "legal")
PROFILES = sorted(p.stem for p in (POLICY_DIR / "profiles").glob("*.yaml"))


def test_every_profile_has_a_script_for_every_stage_in_both_languages() -> None:
    assert PROFILES  # the shipped profiles: cn, us-ma, us-regf
    for profile in PROFILES:
        for stage in STAGES:
            for locale in ("en", "zh-CN"):
                found = script_for(profile, stage, locale)
                assert found is not None, (profile, stage, locale)
                title, text = found
                assert title and text.strip()


def test_a_us_first_call_carries_the_debt_collector_disclosure_and_validation_notice() -> None:
    found = script_for("us-regf", "front_end", "en")
    assert found is not None
    _title, text = found
    assert "This is an attempt to collect a debt" in text
    assert "1006.34" in text and "dispute" in text
    later = script_for("us-ma", "mid_range", "en")
    assert later is not None and "debt collector" in later[1]


def test_a_chinese_account_gets_no_us_wording_and_an_unknown_language_falls_back_to_english() -> (
    None
):
    found = script_for("cn", "front_end", "fr")
    assert found is not None
    assert "attempt to collect a debt" not in found[1] and "22:00" in found[1]


def test_a_misspelt_key_in_the_scripts_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "call.yaml"
    bad.write_text(
        "version: 1\nscripts:\n  - id: x\n    profiles: [cn]\n    stage: [front_end]\n"
        "    title: {en: t}\n    text: {en: t}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError):
        load_scripts(bad)
