from copy import deepcopy
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.ranges import DEFAULT_STAGES
from domain.strategy import (
    ACTION_KINDS,
    DEFAULT_CHANNELS,
    STRATEGIES_DIR,
    Step,
    Strategy,
    StrategyError,
    load_strategy,
    parse_strategy,
)


@pytest.fixture(scope="module")
def default() -> Strategy:
    return load_strategy("default")


@pytest.fixture
def raw() -> dict[str, Any]:
    data = yaml.safe_load((STRATEGIES_DIR / "default.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _invalid(data: dict[str, Any]) -> str:
    with pytest.raises(StrategyError) as info:
        parse_strategy(data, "test.yaml")
    return str(info.value)


# --------------------------------------------------------------------------- shipped default


def test_default_strategy_loads_and_is_pinned_as_default_at_2(default: Strategy) -> None:
    # Version 2 (issue 17): cases and missed-payment reasons (items 6-7), lawsuit filing
    # approval, the minimum suit balance and in-house contact stopping while placed (item 4).
    # default@1 is kept for episodes pinned to it.
    assert default.ref == "default@2"
    assert load_strategy("default", 1).ref == "default@1"
    assert default.jurisdiction == "CN"
    assert default.timezone_default == "Asia/Shanghai"
    assert default.allocation == "penalty_first"


def test_default_buckets_and_stages_match_the_playbook(default: Strategy) -> None:
    assert default.stage_table == DEFAULT_STAGES
    for dpd, bucket, stage in [
        (0, "current", "pre_due"),
        (1, "M1", "front_end"),
        (29, "M1", "front_end"),
        (30, "M2", "mid_range"),
        (89, "M3", "mid_range"),
        (90, "M4+", "hard_core"),
        (149, "M4+", "hard_core"),
        (150, "M4+", "legal"),
    ]:
        assert (default.bucket_for(dpd), default.stage_for(dpd)) == (bucket, stage)


def test_dpd_minus_one_is_pre_due(default: Strategy) -> None:
    assert default.stage_for(-1) == "pre_due"
    assert default.bucket_for(-1) == "current"


@pytest.mark.parametrize("treatment", ["default", "subprime"])
def test_every_treatment_covers_pre_due_and_every_stage(default: Strategy, treatment: str) -> None:
    steps = default.treatments[treatment]
    stages = {default.stage_for(s.dpd) for s in steps}
    assert stages == {"pre_due", "front_end", "mid_range", "hard_core", "legal"}
    assert steps[0].dpd == -1 and steps[0].action == "sms_reminder"


@pytest.mark.parametrize("treatment", ["default", "subprime"])
def test_ladder_fits_the_episode_budget(default: Strategy, treatment: str) -> None:
    # <= 60 timer+activity pairs per 180-day episode; steps on one day are one wake-up.
    steps = [s for s in default.treatments[treatment] if s.dpd <= 180]
    assert len(steps) <= 30
    assert len({s.dpd for s in steps}) <= 30


def test_default_ladder_follows_the_playbook_tools(default: Strategy) -> None:
    steps = default.treatment_for("standard")
    by_action = {(s.action, s.template) for s in steps}
    assert ("sms_reminder", "pre_due_reminder") in by_action
    assert ("lawsuit", "lawsuit_preparation") in by_action
    field = [s for s in steps if s.action == "field_visit"]
    assert field[0].dpd >= 20 and field[0].when == "not_reached"
    assert [s.dpd for s in steps if s.action == "oca_placement"] == [60]
    assert [s.dpd for s in steps if s.action == "lawyer_letter"] == [90]
    assert any(s.action == "asset_preservation" and 90 <= s.dpd < 150 for s in steps)
    assert any(s.action == "lawsuit" and s.dpd == 150 for s in steps)


def test_calls_rotate_through_the_contact_peaks(default: Strategy) -> None:
    calls = [s for s in default.treatment_for("standard") if s.action == "call_task"]
    assert {s.slot for s in calls} == {0, 1, 2}
    assert [default.slot_for(s).label() for s in calls[:3]] == [
        "10:00-11:30",
        "19:00-21:00",
        "14:00-16:30",
    ]


def test_subprime_segment_gets_more_front_end_effort(default: Strategy) -> None:
    def front(segment: str) -> int:
        return sum(1 for s in default.treatment_for(segment) if 1 <= s.dpd <= 29)

    assert default.treatment_name_for("subprime") == "subprime"
    assert front("subprime") > front("standard")


def test_unknown_segment_falls_back_to_the_default_treatment(default: Strategy) -> None:
    assert default.treatment_name_for("platinum") == "default"
    assert default.treatment_for("platinum") == default.treatments["default"]


def test_channel_defaults_from_the_action(default: Strategy) -> None:
    for step in default.treatments["default"]:
        assert step.channel == DEFAULT_CHANNELS[step.action]
    assert set(DEFAULT_CHANNELS) == set(ACTION_KINDS)


def test_explicit_channel_overrides_the_default() -> None:
    step = Step.model_validate({"id": "x", "dpd": 3, "action": "letter", "channel": "agency"})
    assert step.channel == "agency"


def test_steps_due_between_is_exclusive_low_inclusive_high(default: Strategy) -> None:
    steps = default.treatments["default"]
    assert [s.id for s in Strategy.steps_due_between(steps, -2, -1)] == ["pre_due_sms"]
    assert [s.id for s in Strategy.steps_due_between(steps, -1, 1)] == ["fe_sms_1"]
    assert [s.id for s in Strategy.steps_due_between(steps, 1, 2)] == ["fe_call_2"]
    assert Strategy.steps_due_between(steps, 2, 4) == []
    caught_up = Strategy.steps_due_between(steps, 2, 9)
    assert [s.dpd for s in caught_up] == [5, 7, 9]


def test_next_step_dpd_after(default: Strategy) -> None:
    steps = default.treatments["default"]
    assert Strategy.next_step_dpd_after(steps, -1) == 1
    assert Strategy.next_step_dpd_after(steps, 2) == 5
    assert Strategy.next_step_dpd_after(steps, 150) is None


def test_contact_window_and_slots_parse_to_times(default: Strategy) -> None:
    assert default.contact_window.start == time(8, 0)
    assert default.contact_window.end == time(22, 0)
    assert default.preferred_slots[0].start == time(10, 0)
    assert default.preferred_slots[2].end == time(21, 0)


def test_strategy_round_trips_through_json_as_workflow_state(default: Strategy) -> None:
    again = Strategy.model_validate_json(default.model_dump_json())
    assert again == default
    assert '"tolerance_pct":"0.02"' in default.model_dump_json()


# --------------------------------------------------------------------------- validation


def test_overlapping_buckets_reject_the_strategy(raw: dict[str, Any]) -> None:
    raw["buckets"][2]["min"] = 29
    message = _invalid(raw)
    assert "buckets: bucket ranges M1 (1–29) and M2 (29–59) overlap" in message


def test_gapped_stages_reject_the_strategy(raw: dict[str, Any]) -> None:
    raw["stages"][1]["max"] = 88
    message = _invalid(raw)
    assert "stages: gap between stage ranges mid_range (30–88) and hard_core (90–149)" in message


def test_open_ended_range_before_the_last_rejects_the_strategy(raw: dict[str, Any]) -> None:
    del raw["stages"][1]["max"]
    assert "mid_range (30+) is open-ended but is not the last range" in _invalid(raw)


def test_unknown_action_is_rejected_naming_the_step(raw: dict[str, Any]) -> None:
    raw["treatments"]["default"][1]["action"] = "carrier_pigeon"
    message = _invalid(raw)
    assert "treatments.default.1.action" in message
    assert "sms_reminder" in message


def test_unsorted_steps_are_rejected(raw: dict[str, Any]) -> None:
    steps = raw["treatments"]["default"]
    steps[1], steps[2] = steps[2], steps[1]
    assert "steps must be sorted by dpd, but fe_sms_1 (dpd 1) comes after fe_call_2" in _invalid(
        raw
    )


def test_duplicate_step_id_is_rejected(raw: dict[str, Any]) -> None:
    raw["treatments"]["default"][2]["id"] = "fe_sms_1"
    assert "treatment default: step id fe_sms_1 is used twice" in _invalid(raw)


def test_step_before_the_pre_due_day_is_rejected(raw: dict[str, Any]) -> None:
    raw["treatments"]["default"][0]["dpd"] = -2
    assert "treatments.default.0.dpd" in _invalid(raw)


def test_step_slot_outside_the_preferred_slots_is_rejected(raw: dict[str, Any]) -> None:
    raw["treatments"]["default"][2]["slot"] = 3
    assert "step fe_call_2 uses slot 3, but only 3 preferred slots" in _invalid(raw)


def test_unknown_when_condition_is_rejected(raw: dict[str, Any]) -> None:
    raw["treatments"]["default"][2]["when"] = "sometimes"
    assert "treatments.default.2.when" in _invalid(raw)


def test_default_treatment_is_required(raw: dict[str, Any]) -> None:
    raw["treatments"]["standard"] = raw["treatments"].pop("default")
    raw["segments"] = {}
    assert 'a treatment named "default" is required' in _invalid(raw)


def test_segment_mapped_to_a_missing_treatment_is_rejected(raw: dict[str, Any]) -> None:
    raw["segments"]["vip"] = "gold"
    assert "segment vip maps to treatment gold, which is not defined" in _invalid(raw)


def test_misspelt_key_is_rejected_not_ignored(raw: dict[str, Any]) -> None:
    raw["promisses"] = raw.pop("promises")
    assert "promisses" in _invalid(raw)


def test_malformed_slot_is_rejected(raw: dict[str, Any]) -> None:
    raw["preferred_slots"][0] = "ten to noon"
    assert 'must look like "10:00-11:30"' in _invalid(raw)


def test_slot_outside_the_contact_window_is_rejected(raw: dict[str, Any]) -> None:
    raw["contact_window"]["end"] = "20:00"
    assert "slot 19:00-21:00 lies outside the contact window 08:00-20:00" in _invalid(raw)


def test_contact_window_ending_before_it_starts_is_rejected(raw: dict[str, Any]) -> None:
    raw["contact_window"] = {"start": "22:00", "end": "08:00"}
    assert "the contact window ends (08:00) before it starts (22:00)" in _invalid(raw)


def test_unknown_default_time_zone_is_rejected(raw: dict[str, Any]) -> None:
    raw["timezone_default"] = "Asia/Peking"
    assert "timezone_default" in _invalid(raw)


def test_file_that_is_not_a_mapping_is_rejected() -> None:
    with pytest.raises(StrategyError, match="must contain a mapping"):
        parse_strategy(["not", "a", "mapping"], "list.yaml")


# --------------------------------------------------------------------------- versions on disk


def _write(folder: Path, filename: str, data: dict[str, Any]) -> None:
    (folder / filename).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_current_version_lives_in_name_yaml_and_older_ones_in_name_v_n_yaml(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    old = deepcopy(raw)
    old["version"] = 1
    new = deepcopy(raw)
    new["version"] = 2
    _write(tmp_path, "default.yaml", new)
    _write(tmp_path, "default-v1.yaml", old)
    assert load_strategy("default", directory=tmp_path).ref == "default@2"
    assert load_strategy("default", 2, directory=tmp_path).ref == "default@2"
    assert load_strategy("default", 1, directory=tmp_path).ref == "default@1"


def test_missing_version_is_an_error(tmp_path: Path, raw: dict[str, Any]) -> None:
    _write(tmp_path, "default.yaml", raw)
    with pytest.raises(StrategyError, match="default version 5 was not found"):
        load_strategy("default", 5, directory=tmp_path)


def test_missing_strategy_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="strategy nothing was not found"):
        load_strategy("nothing", directory=tmp_path)


def test_file_whose_declared_version_disagrees_with_its_name_is_rejected(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    _write(tmp_path, "default-v3.yaml", {**raw, "version": 1})
    with pytest.raises(StrategyError, match="default-v3.yaml declares version 1, expected 3"):
        load_strategy("default", 3, directory=tmp_path)


def test_file_whose_declared_name_disagrees_is_rejected(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    _write(tmp_path, "other.yaml", raw)
    with pytest.raises(StrategyError, match="declares name 'default', expected 'other'"):
        load_strategy("other", directory=tmp_path)


def test_invalid_yaml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(StrategyError, match="broken.yaml is not valid YAML"):
        load_strategy("broken", directory=tmp_path)


@pytest.mark.parametrize("name", ["../etc/passwd", "Default", "", "a/b"])
def test_strategy_names_cannot_escape_the_strategies_folder(name: str) -> None:
    with pytest.raises(StrategyError, match="not a valid strategy name"):
        load_strategy(name)
