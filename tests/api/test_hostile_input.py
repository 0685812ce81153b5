"""Hostile input is a 422 in the error envelope, never a 500 (issue 21 item 4): amounts Python's
Decimal reads but that are no money (NaN, infinities, exponents) in every field that carries
money, lone UTF-16 surrogates in any string, JSON nested past reason, and currency codes that are
no real currency. Nothing of it reaches a workflow."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.errors import validation_error_body
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, start

PAID_AT = datetime(2026, 12, 5, 2, tzinfo=UTC).isoformat()
NOT_MONEY = ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1E+2", "1e2", "1.5E1", "١٢"]
JSON = {"Content-Type": "application/json"}


def refused_422(response: httpx.Response, *words: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid_input"
    for word in words:
        assert word in error["message"], (word, error["message"])
    return error


def money_calls(amount: str) -> list[tuple[str, Any, dict[str, str], str]]:
    """Every API call that carries money, with `amount` in its money field: (path, body,
    headers, the field's location in the message)."""
    account = account_json("HI-1", datetime(2027, 1, 10).date())
    with_instalment = json.loads(json.dumps(account))
    with_instalment["instalments"][0]["amount"] = amount
    with_rate = {**account, "penalty_rate_daily": amount}
    promise = {"amount": amount, "promised_date": "2027-01-20"}
    return [
        ("/v1/accounts", with_instalment, LOAN_SYSTEM, "instalments.0.amount"),
        ("/v1/accounts", with_rate, LOAN_SYSTEM, "penalty_rate_daily"),
        (
            "/v1/accounts:batch",
            [with_instalment],
            LOAN_SYSTEM,
            "instalments.0.amount",
        ),
        (
            "/v1/accounts/HI-1/payments",
            {"payment_id": "p-1", "amount": amount, "paid_at": PAID_AT},
            LOAN_SYSTEM,
            "amount",
        ),
        (
            "/v1/accounts/HI-1/instalments",
            {"instalments": [{"seq": 9, "due_date": "2027-03-01", "amount": amount}]},
            LOAN_SYSTEM,
            "instalments.0.amount",
        ),
        ("/v1/accounts/HI-1/promises", promise, COLLECTOR, "amount"),
        (
            "/v1/accounts/HI-1/hardship",
            {"cause": "job lost", "term": "short", "surmountable": True, "plan": [promise]},
            COLLECTOR,
            "plan.0.amount",
        ),
        (
            "/v1/tasks/T-HI/outcome",
            {"outcome": "promise_to_pay", "promise": promise},
            COLLECTOR,
            "promise.amount",
        ),
    ]


@pytest.mark.parametrize("amount", NOT_MONEY)
async def test_an_amount_that_is_nan_an_infinity_or_an_exponent_is_refused_with_422_in_every_money_field(  # noqa: E501
    api: httpx.AsyncClient, amount: str
) -> None:
    for path, body, headers, where in money_calls(amount):
        response = await api.post(path, json=body, headers=headers)
        if path.endswith(":batch"):  # judged per item: the item's error names the field
            assert response.status_code == 200, response.text
            item = response.json()["results"][0]
            assert item["error"]["code"] == "invalid_input", item
            assert where in item["error"]["message"], item
            continue
        error = refused_422(response, where)
        assert "not a decimal number" in error["message"] or "not a valid" in error["message"], (
            error
        )


async def test_an_amount_of_nan_is_refused_with_422_and_nothing_reaches_the_workflow(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    await start(api, account_json("HI-NAN", due))
    for amount in NOT_MONEY:
        payment = {"payment_id": f"p-{amount}", "amount": amount, "paid_at": PAID_AT}
        response = await api.post("/v1/accounts/HI-NAN/payments", json=payment, headers=LOAN_SYSTEM)
        refused_422(response, "amount")
        promise = {"amount": amount, "promised_date": (due + timedelta(days=3)).isoformat()}
        response = await api.post("/v1/accounts/HI-NAN/promises", json=promise, headers=COLLECTOR)
        refused_422(response, "amount")
    status = await api.get("/v1/accounts/HI-NAN", headers=SUPERVISOR)
    assert status.status_code == 200, status.text
    assert status.json()["paid_total"] == "0" and status.json()["promise"] is None
    ok = {"payment_id": "p-ok", "amount": "100", "paid_at": PAID_AT}
    response = await api.post("/v1/accounts/HI-NAN/payments", json=ok, headers=LOAN_SYSTEM)
    assert response.status_code == 202, response.text


SURROGATE_BODIES = [
    (
        "/v1/accounts/HI-1/payments",
        b'{"payment_id": "p\\ud800", "amount": "1.00", "paid_at": "2026-12-05T02:00:00+00:00"}',
        LOAN_SYSTEM,
        "payment_id",
    ),
    (
        "/v1/accounts/HI-1/promises",
        b'{"amount": "1.00", "promised_date": "2027-01-20", "pay_to": "\\udc00 the app"}',
        COLLECTOR,
        "pay_to",
    ),
    (
        "/v1/accounts/HI-1/hardship",
        b'{"cause": "x\\udfff", "term": "long", "surmountable": true}',
        COLLECTOR,
        "cause",
    ),
    ("/v1/accounts/HI-1/payments", b'{"\\ud83d": 1}', LOAN_SYSTEM, "<key>"),
]


async def test_a_lone_surrogate_in_any_string_is_refused_with_422_not_a_500(
    api: httpx.AsyncClient,
) -> None:
    account = json.dumps(account_json("HI-2", datetime(2027, 1, 10).date()))
    named = account.replace('"Wang Fang"', '"Wang \\ud800Fang"')
    assert named != account
    cases = [("/v1/accounts", named.encode(), LOAN_SYSTEM, "borrower.name"), *SURROGATE_BODIES]
    batch = b"[" + named.encode() + b"]"
    cases.append(("/v1/accounts:batch", batch, LOAN_SYSTEM, "0.borrower.name"))
    for path, content, headers, where in cases:
        response = await api.post(path, content=content, headers={**headers, **JSON})
        refused_422(response, where, "surrogate")
        assert "\ud800" not in response.text


@pytest.mark.parametrize("depth", [40, 5000, 200_000])
async def test_json_nested_deeper_than_any_body_of_the_contract_is_refused_with_422(
    api: httpx.AsyncClient, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    content = '{"payment_id": "p", "amount": "1.00", "paid_at": "x", "pad": ' + nested + "}"
    response = await api.post(
        "/v1/accounts/HI-1/payments", content=content.encode(), headers={**LOAN_SYSTEM, **JSON}
    )
    refused_422(response, "nested deeper")


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "XDR"])
async def test_a_currency_that_is_no_real_currency_is_refused_with_422(
    api: httpx.AsyncClient, currency: str
) -> None:
    body = {**account_json("HI-3", datetime(2027, 1, 10).date()), "currency": currency}
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    refused_422(response, "currency", "not a known ISO 4217 currency")


def test_the_error_handler_answers_input_echoes_that_are_not_json_compliant() -> None:
    errors = [
        {"loc": ("body", "a"), "msg": "m", "type": "t", "input": Decimal("NaN")},
        {"loc": ("body", "b"), "msg": "m", "type": "t", "input": math.inf},
        {"loc": ("body", "c"), "msg": "m", "type": "t", "input": "x\ud800"},
        {"loc": ("body", "d"), "msg": "m", "type": "t", "input": Decimal("-Infinity")},
    ]
    body = validation_error_body(errors)
    text = json.dumps(body, allow_nan=False).encode("utf-8")  # what JSONResponse does
    echoes = [e["input"] for e in json.loads(text)["error"]["details"]]
    assert echoes == ["NaN", "inf", "x\\ud800", "-Infinity"]
