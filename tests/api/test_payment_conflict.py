"""A payment_id names one payment (issue 21 item 5): repeated with another amount it is a 409
`payment_conflict` naming the amount on record, never a silent 202; repeated with the same body it
stays idempotent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.engine import session_scope
from store.models import PaymentRow
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, start


def _booked(url: str, loan_id: str) -> list[tuple[str, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(PaymentRow).where(PaymentRow.loan_id == loan_id)).all()
        return [(r.payment_id, f"{r.amount:.2f}") for r in rows]


async def test_a_repeated_payment_id_with_another_amount_is_409_naming_the_amount_on_record(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker, database_url: str
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("PC-1", due))
    paid_at = (await workflow_env.get_current_time()).isoformat()
    first = {"payment_id": "PAY-1", "amount": "100.00", "paid_at": paid_at}
    path = "/v1/accounts/PC-1/payments"
    assert (await api.post(path, json=first, headers=LOAN_SYSTEM)).status_code == 202
    for _ in range(100):  # the workflow books it in the store within a moment
        if _booked(database_url, "PC-1"):
            break
        await asyncio.sleep(0.1)
    assert _booked(database_url, "PC-1") == [("PAY-1", "100.00")]

    other = {**first, "amount": "50.00"}
    response = await api.post(path, json=other, headers=LOAN_SYSTEM)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_conflict" and "100.00" in error["message"], error
    assert error["details"]["amount_on_record"] == "100.00"

    for same in (first, {**first, "amount": "100"}):  # the same payment: idempotent
        assert (await api.post(path, json=same, headers=LOAN_SYSTEM)).status_code == 202
    status = (await api.get("/v1/accounts/PC-1", headers=SUPERVISOR)).json()
    assert status["paid_total"] == "100.00", status
    assert _booked(database_url, "PC-1") == [("PAY-1", "100.00")]
