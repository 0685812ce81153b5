"""Helpers for the work-queue tests: tasks written straight into the store (the way the moment
activity writes them), a clock the tests control, and API clients whose Temporal side is either
a recording fake or a dead address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.state import TemporalHandle
from core.settings import DEMO_API_KEYS, Settings
from store.engine import session_scope
from store.models import TaskRow
from tests.conftest import auth

NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: inside the first call slot
BOB = auth("demo-collector-2")
SUPERVISOR_2 = auth("test-supervisor-2")
"""A second supervisor (erin), for four eyes: the demo keys have only carol."""


def add_task(database_url: str, task_id: str, **fields: Any) -> TaskRow:
    """An open call task whose window is open at NOW, unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "task_id": task_id,
        "loan_id": fields.pop("loan_id", f"L-{task_id}"),
        "episode": "episode-0001",
        "action_seq": 1,
        "kind": "call",
        "status": "open",
        "priority": Decimal("1000.00"),
        "not_before": NOW - timedelta(hours=1),
        "not_after": NOW + timedelta(hours=1),
        "detail": {"stage": "front_end", "dpd": 5},
        "created_at": NOW - timedelta(hours=1),
    }
    values.update(fields)
    row = TaskRow(**values)
    with session_scope(database_url) as session:
        session.add(row)
    return row


def task_row(database_url: str, task_id: str) -> TaskRow | None:
    with session_scope(database_url) as session:
        return session.get(TaskRow, task_id)


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    """The suite's settings plus a second supervisor key."""
    keys = f"{DEMO_API_KEYS},test-supervisor-2:supervisor:erin"
    return settings.model_copy(update={"api_keys": SecretStr(keys)})


class FakeHandle:
    """Stands in for a workflow handle: records each update and answers as told."""

    def __init__(self, owner: FakeTemporal, workflow_id: str) -> None:
        self._owner = owner
        self._workflow_id = workflow_id

    async def execute_update(self, name: str, arg: Any, **kwargs: Any) -> Any:
        self._owner.updates.append((self._workflow_id, name, arg, kwargs))
        if self._owner.error is not None:
            raise self._owner.error
        # Answered as the workflow's converter would: the update's result type, from JSON.
        answer = {"task_id": arg.task_id, "effect": f"{arg.outcome.outcome} recorded"}
        return kwargs["result_type"].model_validate(answer)


class FakeTemporal:
    """A Temporal client with only what POST /v1/tasks/{id}/outcome uses."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, Any, dict[str, Any]]] = []
        self.error: BaseException | None = None

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


async def _fixed_clock() -> datetime:
    return NOW


@pytest.fixture
def fake_temporal() -> FakeTemporal:
    return FakeTemporal()


@pytest.fixture
async def queue_api(
    queue_settings: Settings, fake_temporal: FakeTemporal
) -> AsyncIterator[httpx.AsyncClient]:
    """The API at business time NOW, its Temporal client replaced by the recording fake."""
    app = create_app(queue_settings, client=fake_temporal, clock=_fixed_clock)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as client:
        yield client


@pytest.fixture
async def unreachable_api(queue_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API pointed at a Temporal address where nothing listens."""
    dead = queue_settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    app = create_app(dead, clock=_fixed_clock)
    app.state.temporal = TemporalHandle(dead)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as client:
        yield client
