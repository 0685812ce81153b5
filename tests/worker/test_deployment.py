"""Worker Versioning settings: a worker serves one build of one deployment, pinned by default."""

from __future__ import annotations

from temporalio.common import VersioningBehavior

from core.settings import Settings
from worker.deployment import build_id, deployment_config


def test_a_worker_serves_its_build_of_the_deployment_and_pins_episodes_to_it() -> None:
    config = deployment_config(Settings(ARREARS_BUILD_ID="b-2026-12-07"))
    assert config is not None
    assert config.version.deployment_name == "arrears"
    assert config.version.build_id == "b-2026-12-07"
    assert config.use_worker_versioning
    assert config.default_versioning_behavior == VersioningBehavior.PINNED


def test_the_build_id_defaults_to_the_checkouts_commit() -> None:
    found = build_id(Settings())
    assert found and " " not in found


def test_versioning_can_be_switched_off_for_servers_without_it() -> None:
    assert deployment_config(Settings(ARREARS_WORKER_VERSIONING="false")) is None
