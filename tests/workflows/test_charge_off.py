"""Charge-off (issue 17 item 3; PLAYBOOK.md glossary, write-off): at the strategy's charge-off day
past due an account still delinquent is submitted for write-off whatever the cause — reviewed by
one person, approved by another — and money paid after the write-off is a recovery. Driven
through the API on the time-skipping server with the real worker (the task queue is the
store's)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.models import PaymentRow, TransitionRow
from tests.conftest import ANTI_FRAUD, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    open_tasks,
    pay,
    sleep_until,
    start,
    status,
    store_rows,
    work,
)


async def test_at_the_charge_off_day_the_account_is_written_off_with_four_eyes_to_the_cent(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Write-off at the strategy's DPD 180: penalty stops at the charge-off day (1200.00 ×
    0.0005 × 180 = 108.00), a payment during the review lowers what is written off, the
    reviewer and the approver are two people, and a later payment is booked as a recovery."""
    loan = "L-CHARGE-OFF"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=179), hour=12)
    assert open_tasks(database_url, loan, "verification") == []

    await sleep_until(workflow_env, due + timedelta(days=180), hour=12)
    at_charge_off = await status(api, loan)
    assert (at_charge_off["state"], at_charge_off["dpd"]) == ("delinquent", 180)
    assert Decimal(at_charge_off["penalty_accrued"]) == Decimal("108.00")
    assert Decimal(at_charge_off["balance"]) == Decimal("1308.00")
    [review] = open_tasks(database_url, loan, "verification")
    [asked] = [a for a in await actions(api, loan) if a["kind"] == "verification_task"]
    assert asked["detail"]["task_id"] == review["task_id"]
    documents = [c["document"] for c in asked["detail"]["checklist"]]
    assert "collection_history" in documents and "balance_confirmation" in documents

    await sleep_until(workflow_env, due + timedelta(days=185), hour=12)
    await pay(api, loan, "during-review", "100.00", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    reviewed = await status(api, loan)
    assert Decimal(reviewed["penalty_accrued"]) == Decimal("108.00")  # no accrual after 180
    assert Decimal(reviewed["balance"]) == Decimal("1208.00")

    await work(api, review["task_id"], {"outcome": "verified"}, ANTI_FRAUD)
    await workflow_env.sleep(timedelta(minutes=5))
    [approval] = open_tasks(database_url, loan, "approval")
    # (The filing approval asked at DPD 150 went unanswered and expired: no suit.)
    [asked] = [
        a
        for a in await actions(api, loan)
        if a["kind"] == "approval_task" and not a["detail"].get("approves")
    ]
    assert asked["detail"]["task_id"] == approval["task_id"]
    assert Decimal(asked["detail"]["amount"]) == Decimal("1208.00")
    await work(api, approval["task_id"], {"outcome": "approved"}, SUPERVISOR)
    await workflow_env.sleep(timedelta(minutes=5))

    final = await status(api, loan)
    assert final["state"] == "written_off"
    assert Decimal(final["balance"]) == Decimal("1208.00")
    [posted] = [
        a
        for a in await actions(api, loan)
        if a["kind"] == "write_off" and a["detail"].get("status") == "posted"
    ]
    assert Decimal(posted["detail"]["amount"]) == Decimal("1208.00")
    assert posted["detail"]["verified_by"] != posted["detail"]["approved_by"]
    [last] = sorted(store_rows(database_url, TransitionRow, loan), key=lambda t: t["seq"])[-1:]
    assert last["to_state"] == "written_off" and "charged off at DPD 180" in last["reason"]

    body = {"payment_id": "after-write-off", "amount": "50.00", "paid_at": "2027-09-01T10:00:00Z"}
    answer = await api.post(f"/v1/accounts/{loan}/payments", json=body, headers=LOAN_SYSTEM)
    assert answer.status_code == 202, answer.text
    assert answer.json()["booked_as"] == "recovery"
    recoveries = [
        r for r in store_rows(database_url, PaymentRow, loan) if r["booked_as"] == "recovery"
    ]
    assert [(r["payment_id"], r["amount"]) for r in recoveries] == [
        ("after-write-off", Decimal("50.00"))
    ]
