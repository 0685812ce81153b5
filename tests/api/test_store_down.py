"""A store that cannot be reached is a 503 `service_unavailable` with nothing accepted, on every
endpoint, as /health says (issue 21 item 7); a creation that did start is never reported as
"nothing was accepted"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:9/arrears?connect_timeout=2"
PAYMENT = {"payment_id": "p-1", "amount": "10.00", "paid_at": "2026-12-05T02:00:00+00:00"}


@pytest.fixture
async def api_without_store(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    down = settings.model_copy(update={"database_url": UNREACHABLE})
    app = create_app(down, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://arrears.test",
    ) as client:
        yield client


def store_down(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "service_unavailable", error
    assert "nothing was accepted" in error["message"], error
    assert response.headers.get("retry-after")


async def test_a_store_that_cannot_be_reached_is_503_with_nothing_accepted_like_health(
    api_without_store: httpx.AsyncClient,
) -> None:
    api = api_without_store
    health = await api.get("/health")
    assert health.status_code == 503 and health.json()["database"] == "down"
    store_down(await api.get("/v1/accounts/L-X/actions", headers=AUDITOR))
    store_down(await api.get("/v1/accounts/L-X/messages", headers=COLLECTOR))
    store_down(await api.get("/v1/accounts/L-X", headers=SUPERVISOR))
    store_down(await api.get("/v1/tasks", headers=COLLECTOR))
    store_down(await api.get("/v1/accounts/L-X/placements", headers=SUPERVISOR))
    roll_rates = "/v1/reports/roll-rates?from=2026-10-01&to=2026-12-01"
    store_down(await api.get(roll_rates, headers=SUPERVISOR))
    store_down(await api.post("/v1/accounts/L-X/payments", json=PAYMENT, headers=LOAN_SYSTEM))
    promise = {"amount": "10.00", "promised_date": "2027-01-20"}
    store_down(await api.post("/v1/accounts/L-X/promises", json=promise, headers=COLLECTOR))


async def test_no_endpoint_answers_500_when_the_store_cannot_be_reached(
    api_without_store: httpx.AsyncClient,
) -> None:
    app = api_without_store._transport.app  # type: ignore[attr-defined]
    failures: list[str] = []
    paths = app.openapi()["paths"]
    assert len(paths) > 30
    for template, operations in paths.items():
        path = re.sub(r"\{[^}]+\}", "X-1", template)
        for method in sorted(m.upper() for m in operations):
            for headers in (LOAN_SYSTEM, COLLECTOR, SUPERVISOR, AUDITOR):
                body: Any = PAYMENT if path.endswith("/payments") else {}
                response = await asyncio.wait_for(
                    api_without_store.request(
                        method, path, headers=headers, json=body if method == "POST" else None
                    ),
                    timeout=30,
                )
                if response.status_code >= 500 and (
                    response.status_code != 503
                    or response.json()["error"]["code"] != "service_unavailable"
                ):
                    failures.append(f"{method} {template}: {response.status_code}")
    assert not failures, failures


async def test_a_creation_that_started_is_never_answered_with_nothing_accepted(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutting down, the workflow starts but its first status query fails: the answer must say
    the account was started (a retry answers the open one), never "nothing was accepted"."""

    async def shutting_down(*_args: object, **_kwargs: object) -> object:
        raise RPCError("worker shutting down", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(WorkflowHandle, "query", shutting_down)
    due = await business_today(workflow_env)
    body = account_json("SD-1", due)
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert "nothing was accepted" not in error["message"], error
    assert error["code"] == "started_status_unavailable", error
    assert error["details"] == {"loan_id": "SD-1", "started": True}
    described = await workflow_env.client.get_workflow_handle("account-SD-1").describe()
    assert described.id == "account-SD-1"
    batch = await api.post(
        "/v1/accounts:batch", json=[account_json("SD-2", due)], headers=LOAN_SYSTEM
    )
    item = batch.json()["results"][0]
    assert item["error"]["code"] == "started_status_unavailable", item
    assert "nothing was" not in item["error"]["message"], item
