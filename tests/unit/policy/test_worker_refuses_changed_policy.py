"""A policy file changed without a new version stops the next worker at start, naming the file;
a new version is welcome (the store remembers what every version said when first served)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from domain.policy import POLICY_DIR, install_registry, installed_registry
from worker.policy import PolicyRefused, load_policy


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    previous = install_registry(None)
    yield
    install_registry(previous)


def _settings(database_url: str, policy_dir: Path) -> Settings:
    return Settings(DATABASE_URL=database_url, ARREARS_POLICY_DIR=policy_dir)


def test_a_profile_edited_in_place_refuses_the_next_worker_naming_the_file(
    database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy)
    load_policy(_settings(database_url, policy))

    profile = policy / "profiles" / "us-ma.yaml"
    profile.write_text(profile.read_text(encoding="utf-8").replace("max: 2", "max: 3", 1))
    with pytest.raises(PolicyRefused, match=r"us-ma\.yaml.*profile us-ma version 1"):
        load_policy(_settings(database_url, policy))


def test_a_new_version_of_a_profile_starts_the_worker_and_is_remembered(
    database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy)
    load_policy(_settings(database_url, policy))

    profiles = policy / "profiles"
    shutil.copyfile(profiles / "us-ma.yaml", profiles / "us-ma-v1.yaml")
    text = (profiles / "us-ma.yaml").read_text(encoding="utf-8")
    (profiles / "us-ma.yaml").write_text(
        text.replace("version: 1", "version: 2", 1).replace("max: 2", "max: 3", 1)
    )
    registry = load_policy(_settings(database_url, policy))
    assert registry.current("profile", "us-ma").version == 2
    assert installed_registry() is registry
    # ... and the edited version 2 is now held to what it said.
    (profiles / "us-ma.yaml").write_text(
        text.replace("version: 1", "version: 2", 1).replace("max: 2", "max: 4", 1)
    )
    with pytest.raises(PolicyRefused, match="us-ma.yaml"):
        load_policy(_settings(database_url, policy))
