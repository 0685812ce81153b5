"""A payment_id names one payment (issue 21 item 5): repeated with another amount it is a 409
`payment_conflict` naming the amount on record, never a silent 202; repeated with the same body it
stays idempotent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlmodel import select
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.services import payments
from domain.account import PaymentIn
from store.engine import session_scope
from store.models import PaymentRow
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, start
from workflows.contracts import ACCOUNT_WORKFLOW, AccountSignal


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


async def test_two_reports_racing_with_one_payment_id_and_two_amounts_book_one_refuse_other(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker, database_url: str
) -> None:
    """The workflow decides (the update's validator), so the race the store check lost is gone:
    whichever report the workflow takes first is booked, the other is a 409 naming it."""
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("PC-RACE", due))
    paid_at = (await workflow_env.get_current_time()).isoformat()
    path = "/v1/accounts/PC-RACE/payments"
    bodies = [
        {"payment_id": "PAY-R", "amount": amount, "paid_at": paid_at}
        for amount in ("100.00", "70.00")
    ]
    responses = await asyncio.gather(
        *(api.post(path, json=body, headers=LOAN_SYSTEM) for body in bodies)
    )
    assert sorted(r.status_code for r in responses) == [202, 409], [r.text for r in responses]
    [won] = [body for body, r in zip(bodies, responses, strict=True) if r.status_code == 202]
    [lost] = [r.json()["error"] for r in responses if r.status_code == 409]
    assert lost["code"] == "payment_conflict"
    assert lost["details"]["amount_on_record"] == won["amount"], lost
    assert [r.json().get("duplicate") for r in responses if r.status_code == 202] == [False]
    status = (await api.get("/v1/accounts/PC-RACE", headers=SUPERVISOR)).json()
    assert status["paid_total"] == won["amount"], status
    for _ in range(100):
        if _booked(database_url, "PC-RACE"):
            break
        await asyncio.sleep(0.1)
    assert _booked(database_url, "PC-RACE") == [("PAY-R", won["amount"])]


@workflow.defn(name=ACCOUNT_WORKFLOW, sandboxed=False)  # this test module is not sandbox-safe
class _EpisodeOnAnOlderBuild:
    """An AccountWorkflow as builds before the payment update had it: payments by signal."""

    def __init__(self) -> None:
        self.payments: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: bool(self.payments))

    @workflow.signal(name=AccountSignal.PAYMENT)
    def payment(self, payment: dict[str, str]) -> None:
        self.payments.append(payment["payment_id"])


async def test_an_episode_on_a_build_before_the_payment_update_still_takes_the_payment_as_a_signal(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Worker Versioning keeps a running episode on its build until its next stage boundary;
    a payment for it must not fail because that build has no `record_payment` handler."""
    async with Worker(
        workflow_env.client, task_queue="older-build", workflows=[_EpisodeOnAnOlderBuild]
    ):
        handle = await workflow_env.client.start_workflow(
            _EpisodeOnAnOlderBuild.run, id=f"old-build-{uuid.uuid4()}", task_queue="older-build"
        )
        payment = PaymentIn.model_validate(
            {"payment_id": "PAY-OLD", "amount": "10.00", "paid_at": "2026-03-12T10:00:00+08:00"}
        )
        assert await payments._send(handle, payment, 10.0) is None  # no answer: the signal took it
        await handle.result()
        history = await handle.fetch_history()
        signals = [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
        ]
        assert signals == [AccountSignal.PAYMENT]
