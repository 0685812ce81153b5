"""Audit tests drive real episodes on the session's time-skipping server (tests/conftest.py ends
the ones a test left open)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def cli_env(workflow_env: WorkflowEnvironment, database_url: str) -> dict[str, str]:
    """The environment an `arrears` subprocess needs to reach this test's server and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "ARREARS_"))}
    env.update(
        TEMPORAL_ADDRESS=workflow_env.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE=workflow_env.client.namespace,
        DATABASE_URL=database_url,
        ARREARS_POLICY_DIR=os.environ["ARREARS_POLICY_DIR"],  # the tests' (tests/conftest.py)
        PYTHONPATH=str(ROOT),
    )
    return env


ARREARS = [sys.executable, "-m", "arrears.cli"]
