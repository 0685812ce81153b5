"""A conflicting repeat is never silent on the signal fallback (issue 21 item 5): while no worker
answers a payment update, the API sends the `payment` signal; a payment_id the store already
holds with another amount is a 409 there too, and one the store has not written yet is booked
nowhere and recorded by the workflow as a `payment_conflict` action and a `payment.conflict`
event the loan system reads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from domain.account import PaymentIn
from store.engine import session_scope
from store.models import PaymentRow
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, actions, business_today, start
from worker.main import build_worker
from workflows.contracts import AccountSignal, workflow_id_for


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A payment waits one second (not ten) for a worker's answer before it goes as a signal."""
    return settings.model_copy(update={"payment_answer_seconds": 1.0})


def _booked(url: str, loan_id: str) -> list[tuple[str, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(PaymentRow).where(PaymentRow.loan_id == loan_id)).all()
        return [(r.payment_id, f"{r.amount:.2f}") for r in rows]


async def _signalled(workflow_env: WorkflowEnvironment, loan_id: str) -> list[PaymentIn]:
    handle = workflow_env.client.get_workflow_handle(workflow_id_for(loan_id))
    found = []
    for event in (await handle.fetch_history()).events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        if attributes.signal_name == AccountSignal.PAYMENT:
            decoded = await workflow_env.client.data_converter.decode(
                attributes.input.payloads, [PaymentIn]
            )
            found.extend(decoded)
    return found


async def test_with_no_worker_answering_a_repeat_with_another_amount_is_409_not_a_silent_202(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, settings: Settings, database_url: str
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    paid_at = (await workflow_env.get_current_time()).isoformat()
    path = "/v1/accounts/PF-1/payments"
    first = {"payment_id": "PAY-F", "amount": "100.00", "paid_at": paid_at}
    with ThreadPoolExecutor(max_workers=32) as executor:
        # No workflow cache: nothing stays sticky to a worker that has shut down.
        running = build_worker(workflow_env.client, settings, executor, cached_workflows=0)
        async with running:
            await start(api, account_json("PF-1", due))
            assert (await api.post(path, json=first, headers=LOAN_SYSTEM)).status_code == 202
            for _ in range(100):
                if _booked(database_url, "PF-1"):
                    break
                await asyncio.sleep(0.1)
            assert _booked(database_url, "PF-1") == [("PAY-F", "100.00")]

    # No worker now: the update is not answered within a second, and the API falls back.
    response = await api.post(path, json={**first, "amount": "50.00"}, headers=LOAN_SYSTEM)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_conflict" and "100.00" in error["message"], error
    assert error["details"]["amount_on_record"] == "100.00"
    same = await api.post(path, json=first, headers=LOAN_SYSTEM)  # idempotent: a signal
    assert same.status_code == 202, same.text
    assert [(p.payment_id, str(p.amount)) for p in await _signalled(workflow_env, "PF-1")] == [
        ("PAY-F", "100.00")
    ]  # the conflicting amount never reached the workflow


async def test_a_signalled_payment_id_with_another_amount_is_recorded_not_dropped(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker, database_url: str
) -> None:
    """What the store has not written yet the API cannot check: the workflow meets it, books
    nothing, and shows the conflict on the account's timeline."""
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("PF-2", due))
    paid_at = await workflow_env.get_current_time()
    handle = workflow_env.client.get_workflow_handle(workflow_id_for("PF-2"))
    for amount in ("100.00", "50.00"):
        payment = {"payment_id": "PAY-S", "amount": amount, "paid_at": paid_at.isoformat()}
        await handle.signal(AccountSignal.PAYMENT, PaymentIn.model_validate(payment))
    conflicts: list[dict[str, Any]] = []
    for _ in range(100):
        conflicts = [a for a in await actions(api, "PF-2") if a["kind"] == "payment_conflict"]
        if conflicts:
            break
        await asyncio.sleep(0.1)
    [conflict] = conflicts
    detail = conflict["detail"]
    assert (detail["payment_id"], detail["amount_on_record"], detail["amount"]) == (
        "PAY-S",
        "100.00",
        "50.00",
    ), conflict
    feed = await api.get("/v1/events", params={"limit": 500}, headers=LOAN_SYSTEM)
    assert feed.status_code == 200, feed.text
    told = [
        e["data"]
        for e in feed.json()["items"]
        if e["loan_id"] == "PF-2" and e["type"] == "payment.conflict"
    ]
    assert [(d["payment_id"], d["amount_on_record"], d["amount"]) for d in told] == [
        ("PAY-S", "100.00", "50.00")
    ]  # the loan system learns of it too
    status = (await api.get("/v1/accounts/PF-2", headers=SUPERVISOR)).json()
    assert status["paid_total"] == "100.00", status
    assert _booked(database_url, "PF-2") == [("PAY-S", "100.00")]
