"""Policy pinned by reference: an episode names strategy, profile and calendars by name, version
and content hash, and a registry answers only an exact match."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domain.policy import (
    POLICY_DIR,
    PolicyError,
    PolicyRef,
    PolicyRegistry,
    UnknownPolicy,
    content_hash,
    pin_policy,
)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    shutil.copytree(POLICY_DIR, tmp_path / "policy")
    return tmp_path / "policy"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_policy_names_the_current_strategy_profiles_and_calendars() -> None:
    registry = PolicyRegistry.load(POLICY_DIR)
    default = registry.current("strategy", "default")
    assert registry.strategy(default).name == "default"
    cn = registry.current("profile", "cn")
    assert registry.profile(cn).window is not None
    assert [r.name for r in registry.calendar_refs("CN")][:3] == ["CN/2024", "CN/2025", "CN/2026"]
    assert len(default.sha256) == 64


def test_a_comment_or_layout_change_keeps_the_hash_a_rule_change_does_not(policy_dir: Path) -> None:
    before = PolicyRegistry.load(policy_dir).current("profile", "cn")
    profile = policy_dir / "profiles" / "cn.yaml"
    profile.write_text("# reviewed again\n" + profile.read_text(encoding="utf-8"))
    assert PolicyRegistry.load(policy_dir).current("profile", "cn") == before

    _edit(profile, 'end: "22:00"', 'end: "21:00"')
    edited = PolicyRegistry.load(policy_dir)
    assert edited.current("profile", "cn").sha256 != before.sha256
    with pytest.raises(UnknownPolicy, match="changed without a new version"):
        edited.profile(before)


def test_a_new_version_beside_the_old_file_serves_both_running_and_new_episodes(
    policy_dir: Path,
) -> None:
    old_ref = PolicyRegistry.load(policy_dir).current("profile", "cn")
    profiles = policy_dir / "profiles"
    shutil.copyfile(profiles / "cn.yaml", profiles / "cn-v1.yaml")
    _edit(profiles / "cn.yaml", "version: 1", "version: 2")
    _edit(profiles / "cn.yaml", 'end: "22:00"', 'end: "21:00"')

    registry = PolicyRegistry.load(policy_dir)
    new_ref = registry.current("profile", "cn")
    assert new_ref.version == 2
    assert registry.profile(old_ref).window is not None
    assert registry.profile(old_ref).window.end.hour == 22  # type: ignore[union-attr]
    assert registry.profile(new_ref).window.end.hour == 21  # type: ignore[union-attr]


def test_a_reference_to_a_version_the_worker_lacks_is_refused_naming_what_it_has() -> None:
    registry = PolicyRegistry.load(POLICY_DIR)
    current = registry.current("strategy", "default")
    missing = PolicyRef(kind="strategy", name="default", version=99, sha256=current.sha256)
    with pytest.raises(UnknownPolicy, match=r"default@99.*it has: default@1"):
        registry.strategy(missing)


def test_a_file_whose_name_and_content_disagree_stops_the_load_naming_it(policy_dir: Path) -> None:
    strategies = policy_dir / "strategies"
    shutil.copyfile(strategies / "default.yaml", strategies / "default-v7.yaml")
    with pytest.raises(PolicyError, match="default-v7.yaml"):
        PolicyRegistry.load(policy_dir)


def test_calendars_are_pinned_year_by_year_by_hash(policy_dir: Path) -> None:
    registry = PolicyRegistry.load(policy_dir)
    refs = registry.calendar_refs("CN")
    calendars = registry.calendars(refs)
    from datetime import date

    assert calendars.holiday(date(2026, 10, 1), "CN") == "National Day"
    _edit(
        policy_dir / "calendars" / "CN" / "2026.yaml",
        "'2026-10-07': National Day",
        "'2026-10-08': National Day",
    )
    with pytest.raises(UnknownPolicy, match="CN/2026"):
        PolicyRegistry.load(policy_dir).calendars(refs)


def test_a_new_episode_pins_its_strategy_its_jurisdictions_profile_and_its_regions_calendars() -> (
    None
):
    registry = PolicyRegistry.load(POLICY_DIR)
    strategy = registry.current("strategy", "default")
    pinned = pin_policy(registry, strategy, "US-MA")
    assert pinned.profile.name == "us-ma"
    assert {ref.name.split("/")[0] for ref in pinned.calendars} == {"US-MA"}
    assert pin_policy(registry, strategy, None).profile.name == "cn"  # the strategy's default
    resolved = pinned.resolve(registry)
    assert resolved.profile.name == "us-ma"
    assert resolved.strategy.name == "default"
    with pytest.raises(UnknownPolicy, match="'XX'"):
        pin_policy(registry, strategy, "XX")
    # What rides in every workflow input is small.
    assert len(pinned.model_dump_json()) < 3000


def test_a_reference_hashes_what_the_file_says_so_new_schema_defaults_keep_references() -> None:
    """A release that gives strategies a new field with a default must not orphan the running
    episodes pinned to today's files: the hash is over the written document, not the model."""
    import yaml

    registry = PolicyRegistry.load(POLICY_DIR)
    path = POLICY_DIR / "strategies" / "default.yaml"
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    ref = registry.current("strategy", "default")
    assert ref.sha256 == content_hash(written)
    # The validated model spells out every default the file leaves unsaid: hashing it would
    # change every reference whenever the schema gains a field.
    assert content_hash(registry.strategy(ref).model_dump(mode="json")) != ref.sha256
