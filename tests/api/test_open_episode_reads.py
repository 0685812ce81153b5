"""Reads that skip a round trip (issue 19) answer as the careful path did: GET /v1/accounts/{id}
queries directly when the store shows the episode open, and still answers the store's snapshot
when the workflow has in fact ended; a payment reads the account's currency once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.services import amounts
from api.services.episodes import open_in_store, query_if_open
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, sleep_until, start
from workflows.contracts import workflow_id_for


async def _until_in_store(env: WorkflowEnvironment, database_url: str, loan_id: str) -> None:
    """Past the due date the episode has acted and its snapshot is in the store."""
    await sleep_until(env, await business_today(env) + timedelta(days=3), hour=11)
    for _ in range(100):
        if open_in_store(database_url, [loan_id]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{loan_id} never reached the store")


async def test_an_episode_the_store_shows_open_but_temporal_ended_answers_the_snapshot(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker, database_url: str
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("OR-1", due))
    await _until_in_store(workflow_env, database_url, "OR-1")
    live = await api.get("/v1/accounts/OR-1", headers=SUPERVISOR)
    assert live.status_code == 200 and live.json()["loan_id"] == "OR-1"

    # Ended behind the store's back (an operator's terminate writes no closing moment).
    await workflow_env.client.get_workflow_handle(workflow_id_for("OR-1")).terminate("test")
    assert open_in_store(database_url, ["OR-1"]) == {"OR-1"}
    now = await workflow_env.get_current_time()
    assert await query_if_open(workflow_env.client, "OR-1", now, store_open=True) is None
    ended = await api.get("/v1/accounts/OR-1", headers=SUPERVISOR)

    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["loan_id"] == "OR-1" and body["state"] == live.json()["state"]


async def test_a_payment_reads_the_accounts_currency_from_the_store_once(
    api: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("OR-2", due))
    await _until_in_store(workflow_env, database_url, "OR-2")
    reads: list[str] = []
    real = amounts._stored_currency

    def counted(url: str, loan_id: str) -> str | None:
        reads.append(loan_id)
        return real(url, loan_id)

    monkeypatch.setattr(amounts, "_stored_currency", counted)
    paid_at = (await workflow_env.get_current_time()).isoformat()
    for n in range(3):
        body = {"payment_id": f"OR2-P{n}", "amount": "10.00", "paid_at": paid_at}
        response = await api.post("/v1/accounts/OR-2/payments", json=body, headers=LOAN_SYSTEM)
        assert response.status_code == 202, response.text
    finer = {"payment_id": "OR2-P9", "amount": "10.005", "paid_at": paid_at}
    refused = await api.post("/v1/accounts/OR-2/payments", json=finer, headers=LOAN_SYSTEM)

    assert reads.count("OR-2") <= 1
    assert refused.status_code == 422, refused.text  # still checked against the currency
