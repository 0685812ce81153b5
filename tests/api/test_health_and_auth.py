"""The API's front door: /health is open and honest, every /v1 call needs a key with a role."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.auth import KeyRing, Role
from core.settings import DEMO_API_KEYS, Settings
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM


async def test_health_is_ok_when_temporal_and_database_answer(api: httpx.AsyncClient) -> None:
    for path in ("/health", "/health/ready"):
        response = await api.get(path)
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["temporal"], body["database"]) == ("ok", "ok", "ok")
    assert (await api.get("/health/live")).json() == {"status": "ok"}


async def test_readiness_names_every_active_region_without_a_holiday_calendar_but_stays_ready(
    workflow_env: object, database_url: str, tmp_path: Path
) -> None:
    from temporalio.testing import WorkflowEnvironment

    assert isinstance(workflow_env, WorkflowEnvironment)
    (tmp_path / "calendars").mkdir()
    settings = Settings(DATABASE_URL=database_url, ARREARS_POLICY_DIR=tmp_path)
    transport = httpx.ASGITransport(app=create_app(settings, client=workflow_env.client))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    missing = response.json()["calendars_missing"]
    assert {gap.split()[0] for gap in missing} == {"CN", "US", "US-MA"}


async def test_health_answers_503_naming_temporal_when_it_is_down(database_url: str) -> None:
    settings = Settings(DATABASE_URL=database_url, TEMPORAL_ADDRESS="127.0.0.1:1")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["temporal"] == "down" and body["database"] == "ok"
    assert body["error"]["details"] == ["temporal"]


async def test_health_answers_503_naming_the_database_when_it_is_down(
    workflow_env: object, tmp_path: object
) -> None:
    from temporalio.testing import WorkflowEnvironment

    assert isinstance(workflow_env, WorkflowEnvironment)
    settings = Settings(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    transport = httpx.ASGITransport(app=create_app(settings, client=workflow_env.client))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["temporal"] == "ok"


async def test_a_call_without_a_key_is_refused_with_401_in_the_error_envelope(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/accounts/L-1")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthenticated" and "Bearer" in error["message"]


async def test_an_unknown_key_is_refused_with_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/accounts/L-1", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


async def test_a_role_not_allowed_for_the_call_gets_403(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/accounts", json={}, headers=COLLECTOR)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    response = await api.post("/v1/accounts/L-1/promises", json={}, headers=AUDITOR)
    assert response.status_code == 403


async def test_invalid_input_is_422_with_a_sentence_saying_what_is_wrong(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post("/v1/accounts", json={"loan_id": "L 1"}, headers=LOAN_SYSTEM)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "loan_id" in error["message"] and error["details"]


def test_api_keys_are_parsed_with_role_and_user() -> None:
    ring = KeyRing(DEMO_API_KEYS)
    principal = ring.identify("demo-collector")
    assert principal is not None
    assert principal.role == Role.COLLECTOR and principal.user == "alice"
    assert ring.identify("demo-collector ") is None


def test_a_key_with_an_unknown_role_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        KeyRing("k:boss")
