"""`GET /v1/events` through the API, on the time-skipping server: the loan system reads every
business fact of an episode once, in order, page by page; a cursor that names no event is a 422;
only the loan system's key reads the feed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR, LOAN_SYSTEM
from tests.workflows.helpers import account_json, business_today, pay, sleep_until, start


async def _read_all(api: httpx.AsyncClient, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await api.get(
            "/v1/events", params={"after": after, "limit": limit}, headers=LOAN_SYSTEM
        )
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["items"]:
            assert page["next_cursor"] is None
            return items
        items += page["items"]
        after = page["next_cursor"]


async def _events_of(api: httpx.AsyncClient, loan_id: str, until: str) -> list[dict[str, Any]]:
    """The loan's events once `until` is among them (moments reach the store a moment later)."""
    for _ in range(200):
        events = [e for e in await _read_all(api, 3) if e["loan_id"] == loan_id]
        if any(e["type"] == until for e in events):
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {until} for {loan_id}: {[e['type'] for e in events]}")


async def test_the_loan_system_reads_an_episode_from_opening_to_cure_once_and_in_order(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("EV-1", due))
    await sleep_until(workflow_env, due + timedelta(days=3), 15)
    status = (await api.get("/v1/accounts/EV-1", headers=LOAN_SYSTEM)).json()
    owed = Decimal(status["amount_overdue"]) + Decimal(status["penalty_accrued"])
    await pay(api, "EV-1", "PAY-EV-1", str(owed), await workflow_env.get_current_time())
    events = await _events_of(api, "EV-1", "account.closed")

    assert [e["type"] for e in events] == [
        "account.opened",
        "account.delinquent",
        "bucket.changed",
        "payment.applied",
        "bucket.changed",
        "account.cured",
        "account.closed",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    applied = events[3]["data"]
    assert applied["payment_id"] == "PAY-EV-1" and Decimal(applied["amount"]) == owed
    assert events[1]["data"]["dpd"] == 1 and events[2]["data"]["to_bucket"] == "M1"


async def test_a_cursor_that_names_no_event_is_refused(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    response = await api.get("/v1/events", params={"after": 987654}, headers=LOAN_SYSTEM)
    assert response.status_code == 422, response.text
    assert "987654" in response.json()["error"]["message"]
    negative = await api.get("/v1/events", params={"after": -1}, headers=LOAN_SYSTEM)
    assert negative.status_code == 422


async def test_only_the_loan_system_reads_the_event_feed(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    assert (await api.get("/v1/events", headers=COLLECTOR)).status_code == 403
    assert (await api.get("/v1/events")).status_code == 401
