"""What the API accepts, the workflow and the store can hold (issue 21, item 2): every bound
comes from domain/limits.py, the contract's models and the store's columns alike, so an input
at the bound is booked on SQLite and on PostgreSQL, and one past it is a 422 at the door instead
of an activity that fails at every retry and freezes the account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.limits import LOAN_ID_LENGTH, MAX_AMOUNT, NAME_LENGTH, PAYMENT_ID_LENGTH
from store.models import AccountRow, PaymentRow
from tests.conftest import LOAN_SYSTEM
from tests.workflows.helpers import account_json, business_today, sleep_until, status, store_rows

pytestmark = pytest.mark.database


async def test_an_account_and_a_payment_at_every_bound_are_booked_by_the_store(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loan = "L-" + "9" * (LOAN_ID_LENGTH - 2)
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due, amounts=(str(MAX_AMOUNT),) * 3)
    body["borrower"]["name"] = "名" * NAME_LENGTH
    created = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert created.status_code == 201, created.text

    # A month of penalty on three of the largest instalments still fits the money columns.
    await sleep_until(workflow_env, due + timedelta(days=30))
    paid_at = (await workflow_env.get_current_time()).isoformat()
    payment = {"payment_id": "P" * PAYMENT_ID_LENGTH, "amount": str(MAX_AMOUNT), "paid_at": paid_at}
    answer = await api.post(f"/v1/accounts/{loan}/payments", json=payment, headers=LOAN_SYSTEM)
    assert answer.status_code == 202, answer.text
    await sleep_until(workflow_env, due + timedelta(days=31))

    [row] = store_rows(database_url, PaymentRow, loan)
    assert (row["payment_id"], Decimal(row["amount"])) == (payment["payment_id"], MAX_AMOUNT)
    [account] = store_rows(database_url, AccountRow, loan)
    assert Decimal(account["paid_total"]) == MAX_AMOUNT
    assert Decimal((await status(api, loan))["penalty_accrued"]) > 0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.update(loan_id="L-" + "9" * (LOAN_ID_LENGTH - 1)), "loan_id"),
        (lambda b: b["borrower"].update(name="名" * (NAME_LENGTH + 1)), "name"),
        (lambda b: b["borrower"].update(name="Wang\x00Fang"), "name"),
        (lambda b: b["instalments"][0].update(amount=str(MAX_AMOUNT + Decimal("0.01"))), "amount"),
    ],
    ids=["loan_id_too_long", "name_too_long", "nul_in_name", "amount_too_large"],
)
async def test_an_account_past_a_bound_is_refused_at_the_door_and_nothing_starts(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, change: object, where: str
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json("L-LIMIT", due)
    change(body)  # type: ignore[operator]
    answer = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert answer.status_code == 422, answer.text
    assert where in answer.text
    assert (await api.get("/v1/accounts/L-LIMIT", headers=LOAN_SYSTEM)).status_code == 404


@pytest.mark.parametrize(
    ("payment_id", "amount"),
    [
        ("P" * (PAYMENT_ID_LENGTH + 1), "100.00"),
        ("PAY-1", str(MAX_AMOUNT + Decimal("0.01"))),
        ("PAY-1", "1e400"),
        ("PAY-\x00", "100.00"),
    ],
    ids=["payment_id_too_long", "amount_too_large", "exponent", "nul_in_id"],
)
async def test_a_payment_past_a_bound_is_refused_at_the_door_and_nothing_is_booked(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
    payment_id: str,
    amount: str,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    created = await api.post(
        "/v1/accounts", json=account_json("L-LIMIT-PAY", due), headers=LOAN_SYSTEM
    )
    assert created.status_code == 201, created.text
    paid_at = (await workflow_env.get_current_time()).isoformat()
    answer = await api.post(
        "/v1/accounts/L-LIMIT-PAY/payments",
        json={"payment_id": payment_id, "amount": amount, "paid_at": paid_at},
        headers=LOAN_SYSTEM,
    )
    assert answer.status_code == 422, answer.text
    await sleep_until(workflow_env, due)
    assert store_rows(database_url, PaymentRow, "L-LIMIT-PAY") == []
