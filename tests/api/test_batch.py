"""`POST /v1/accounts:batch`: one result per item in order; a bad item does not stop the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR, LOAN_SYSTEM
from tests.started import STARTED
from tests.workflows.helpers import account_json, business_today


async def batch(api: httpx.AsyncClient, items: list[Any]) -> httpx.Response:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("loan_id"), str):
            STARTED.append(item["loan_id"])
    return await api.post("/v1/accounts:batch", json=items, headers=LOAN_SYSTEM)


async def test_a_batch_answers_each_item_in_order_and_a_bad_item_stops_nothing(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    bad_date = account_json("B-bad-date", due)
    bad_date["instalments"][0]["due_date"] = "2026-02-30"
    bad_amount = account_json("B-bad-amount", due, amounts=("100.005",))
    items: list[Any] = [
        account_json("B-1", due),
        bad_date,
        "not an account",
        account_json("B-2", due),
        bad_amount,
        account_json("B-1", due),  # the same loan twice in one batch: started once
        {**account_json("B-3", due), "jurisdiction": "XX"},
    ]
    response = await batch(api, items)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["result"] for r in results] == [
        "started",
        "invalid",
        "invalid",
        "started",
        "invalid",
        "already_open",
        "invalid",
    ]
    assert response.json()["counts"] == {
        "started": 2,
        "already_open": 1,
        "invalid": 4,
        "failed": 0,
    }
    assert results[0]["status"]["loan_id"] == "B-1" and results[0]["status"]["state"] == "pre_due"
    assert results[5]["status"]["loan_id"] == "B-1" and results[5]["error"] is None
    date_error = results[1]["error"]
    assert (
        date_error["code"] == "invalid_input" and "instalments.0.due_date" in date_error["message"]
    )
    assert date_error["details"][0]["loc"] == ["instalments", 0, "due_date"]
    assert "more decimals than CNY allows" in results[4]["error"]["message"]
    assert results[2]["loan_id"] is None and results[2]["error"]["code"] == "invalid_input"
    assert results[6]["error"]["details"][0]["loc"] == ["body", "jurisdiction"]
    for loan_id in ("B-1", "B-2"):
        status = await api.get(f"/v1/accounts/{loan_id}", headers=COLLECTOR)
        assert status.status_code == 200
    for loan_id in ("B-bad-date", "B-bad-amount", "B-3"):
        assert (await api.get(f"/v1/accounts/{loan_id}", headers=COLLECTOR)).status_code == 404

    again = await batch(api, [account_json("B-2", due), account_json("B-4", due)])
    assert [r["result"] for r in again.json()["results"]] == ["already_open", "started"]


async def test_a_batch_of_more_than_1000_accounts_is_refused_whole(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/v1/accounts:batch", json=[{"loan_id": f"X-{i}"} for i in range(1001)], headers=LOAN_SYSTEM
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "too_many_items" and "at most 1,000" in error["message"]


async def test_a_batch_body_that_is_not_a_list_is_422(api: httpx.AsyncClient) -> None:
    bodies: tuple[object, ...] = ({"accounts": []}, "x", 3)
    for body in bodies:
        response = await api.post("/v1/accounts:batch", json=body, headers=LOAN_SYSTEM)
        assert response.status_code == 422
        assert "JSON array" in response.json()["error"]["message"]
    broken = await api.post(
        "/v1/accounts:batch",
        content=b"[{",
        headers={**LOAN_SYSTEM, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]["message"]


async def test_an_empty_batch_starts_nothing(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/accounts:batch", json=[], headers=LOAN_SYSTEM)
    assert response.status_code == 200
    assert response.json()["results"] == []


async def test_only_the_loan_system_may_send_a_batch(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/accounts:batch", json=[], headers=COLLECTOR)
    assert response.status_code == 403
