"""Bad input is a 4xx in the error envelope with a message that says what is wrong, and nothing
reaches a workflow: amounts finer than the currency, amounts ≤ 0, dates that do not exist,
unknown enum values, oversized bodies, bodies that are not JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.account import check_segment
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, start

PAID_AT = datetime(2026, 12, 5, 2, tzinfo=UTC).isoformat()


def refused(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    for word in words:
        assert word in error["message"], (word, error["message"])
    return str(error["message"])


async def test_amounts_finer_than_the_currency_are_refused_and_never_reach_the_workflow(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    due = await business_today(workflow_env) + timedelta(days=1)
    start_finer = await api.post(
        "/v1/accounts", json=account_json("BI-0", due, amounts=("1200.005",)), headers=LOAN_SYSTEM
    )
    refused(start_finer, 422, "Instalment 7", "more decimals than CNY allows")

    await start(api, account_json("BI-1", due))
    payment = {"payment_id": "p-1", "amount": "100.005", "paid_at": PAID_AT}
    response = await api.post("/v1/accounts/BI-1/payments", json=payment, headers=LOAN_SYSTEM)
    refused(response, 422, "amount", "more decimals than CNY allows", "at most 2 decimal places")
    schedule = {"instalments": [{"seq": 9, "due_date": "2027-03-01", "amount": "1.001"}]}
    response = await api.post("/v1/accounts/BI-1/instalments", json=schedule, headers=LOAN_SYSTEM)
    refused(response, 422, "instalments.0.amount", "more decimals than CNY allows")

    jpy = {**account_json("BI-2", due, amounts=("12000",)), "currency": "JPY"}
    await start(api, jpy)
    payment = {"payment_id": "p-2", "amount": "100.5", "paid_at": PAID_AT}
    response = await api.post("/v1/accounts/BI-2/payments", json=payment, headers=LOAN_SYSTEM)
    refused(response, 422, "more decimals than JPY allows", "no decimals")

    # Nothing reached the workflows: they still answer, and nothing was paid.
    for loan_id in ("BI-1", "BI-2"):
        status = await api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
        assert status.status_code == 200 and status.json()["paid_total"] == "0"
    ok = {"payment_id": "p-3", "amount": "100.50", "paid_at": PAID_AT}
    assert (
        await api.post("/v1/accounts/BI-1/payments", json=ok, headers=LOAN_SYSTEM)
    ).status_code == 202


@pytest.mark.parametrize("amount", ["0", "-5", "0.00", "-0.01"])
async def test_zero_or_negative_amounts_are_refused(api: httpx.AsyncClient, amount: str) -> None:
    payment = {"payment_id": "p", "amount": amount, "paid_at": PAID_AT}
    response = await api.post("/v1/accounts/L-X/payments", json=payment, headers=LOAN_SYSTEM)
    refused(response, 422, "amount", "greater than 0")
    promise = {"amount": amount, "promised_date": "2026-12-10"}
    response = await api.post("/v1/accounts/L-X/promises", json=promise, headers=COLLECTOR)
    refused(response, 422, "amount", "greater than 0")


async def test_amounts_that_are_floats_or_not_numbers_are_refused(api: httpx.AsyncClient) -> None:
    for amount, words in ((100.5, "not a floating-point number"), ("ten", "not a decimal number")):
        payment = {"payment_id": "p", "amount": amount, "paid_at": PAID_AT}
        response = await api.post("/v1/accounts/L-X/payments", json=payment, headers=LOAN_SYSTEM)
        refused(response, 422, "amount", words)


async def test_dates_that_do_not_exist_are_refused(api: httpx.AsyncClient) -> None:
    promise = {"amount": "10.00", "promised_date": "2026-02-30"}
    response = await api.post("/v1/accounts/L-X/promises", json=promise, headers=COLLECTOR)
    refused(response, 422, "promised_date", "day value is outside expected range")
    body = account_json("L-X", datetime(2026, 12, 1).date())
    body["instalments"][0]["due_date"] = "2026-13-01"
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    refused(response, 422, "instalments.0.due_date", "month value is outside expected range")
    payment = {"payment_id": "p", "amount": "1.00", "paid_at": "2026-02-30T10:00:00+08:00"}
    response = await api.post("/v1/accounts/L-X/payments", json=payment, headers=LOAN_SYSTEM)
    refused(response, 422, "paid_at")
    payment["paid_at"] = "2026-02-03T10:00:00"  # no offset: an instant needs one
    response = await api.post("/v1/accounts/L-X/payments", json=payment, headers=LOAN_SYSTEM)
    refused(response, 422, "paid_at", "timezone")


async def test_unknown_enum_values_are_refused_naming_the_allowed_ones(
    api: httpx.AsyncClient,
) -> None:
    hardship = {"cause": "job lost", "term": "forever", "surmountable": True}
    response = await api.post("/v1/accounts/L-X/hardship", json=hardship, headers=COLLECTOR)
    refused(response, 422, "term", "'short' or 'long'")
    response = await api.post(
        "/v1/accounts/L-X/restructure", json={"decision": "maybe"}, headers=COLLECTOR
    )
    refused(response, 422, "decision", "'accept' or 'decline'")
    response = await api.get("/v1/tasks?kind=dragon", headers=COLLECTOR)
    refused(response, 422, "kind", "'call'")
    response = await api.post(
        "/v1/tasks/T-X/outcome", json={"outcome": "vanished"}, headers=COLLECTOR
    )
    refused(response, 422, "outcome", "'promise_to_pay'")
    body = account_json("L-X", datetime(2026, 12, 1).date())
    body["borrower"]["phones"][0]["kind"] = "pager"
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    refused(response, 422, "borrower.phones.0.kind", "'mobile'")


async def test_oversized_bodies_are_413_in_the_envelope(api: httpx.AsyncClient) -> None:
    big = {"payment_id": "p", "amount": "1.00", "paid_at": PAID_AT, "pad": "x" * (1024 * 1024)}
    response = await api.post("/v1/accounts/L-X/payments", json=big, headers=LOAN_SYSTEM)
    error = refused(response, 413, "larger than this endpoint accepts (1 MiB)")
    assert response.json()["error"]["code"] == "payload_too_large", error

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
        yield b'{"payment_id": "p", "pad": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    response = await api.post(
        "/v1/accounts/L-X/payments",
        content=streamed(),
        headers={**LOAN_SYSTEM, "Content-Type": "application/json"},
    )
    refused(response, 413, "1 MiB")

    # A batch may be larger than a single call (1,000 accounts); each item is judged alone.
    item = {**account_json("L-X", datetime(2026, 12, 1).date()), "pad": "x" * 2000}
    content = json.dumps([item] * 1000).encode()
    assert 1024 * 1024 < len(content) < 16 * 1024 * 1024
    response = await api.post(
        "/v1/accounts:batch",
        content=content,
        headers={**LOAN_SYSTEM, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["invalid"] == 1000
    assert "pad" in response.json()["results"][0]["error"]["message"]
    too_big = json.dumps([item] * 8000).encode()
    response = await api.post(
        "/v1/accounts:batch",
        content=too_big,
        headers={**LOAN_SYSTEM, "Content-Type": "application/json"},
    )
    refused(response, 413, "16 MiB")


async def test_bodies_that_are_not_json_are_415_in_the_envelope(api: httpx.AsyncClient) -> None:
    payment = "payment_id=p&amount=1.00"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await api.post(
            "/v1/accounts/L-X/payments",
            content=payment,
            headers={**LOAN_SYSTEM, "Content-Type": content_type},
        )
        refused(response, 415, "must be JSON", content_type)
        assert response.json()["error"]["code"] == "unsupported_media_type"
    response = await api.post(
        "/v1/accounts/L-X/payments",
        content=b'{"payment_id": ',
        headers={**LOAN_SYSTEM, "Content-Type": "application/json"},
    )
    refused(response, 422, "JSON")


BAD_NUMBERS = ["garbage", "12", "+86 138 0013", "+1 555 0100"]


@pytest.mark.parametrize("number", BAD_NUMBERS)
async def test_a_phone_number_that_is_not_a_valid_e164_number_is_refused_when_an_account_starts(
    api: httpx.AsyncClient, number: str
) -> None:
    body = account_json("BI-PHONE", datetime(2027, 1, 10).date())
    body["borrower"]["phones"] = [{"kind": "mobile", "number": number}]
    refused(
        await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM),
        422,
        "borrower.phones.0.number",
    )
    body = account_json("BI-PHONE", datetime(2027, 1, 10).date())
    body["contacts"] = [{"name": "Li Lei", "relation": "spouse", "phone": number}]
    refused(
        await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM),
        422,
        "contacts.0.phone",
    )


@pytest.mark.parametrize("number", BAD_NUMBERS)
async def test_a_new_phone_number_from_a_collector_must_be_a_valid_e164_number(
    api: httpx.AsyncClient, number: str
) -> None:
    new_phone = {"phones": [{"kind": "mobile", "number": number}]}
    response = await api.post(
        "/v1/accounts/BI-CONTACT/contact-info", json=new_phone, headers=COLLECTOR
    )
    refused(response, 422, "phones.0.number")


@pytest.mark.parametrize("number", BAD_NUMBERS)
async def test_a_dead_phone_number_from_a_collector_must_be_a_valid_e164_number(
    api: httpx.AsyncClient, number: str
) -> None:
    dead_phone = {"dead_phones": [number]}
    response = await api.post(
        "/v1/accounts/BI-CONTACT/contact-info", json=dead_phone, headers=COLLECTOR
    )
    refused(response, 422, "dead_phones.0")


@pytest.mark.parametrize(
    "segment",
    ["Wang Fang", "王芳", "13800138000", "vip-13800138000", "Standard", "-standard", "a" * 41],
)
async def test_a_segment_that_is_not_a_slug_is_refused_because_it_is_stored_unencrypted(
    api: httpx.AsyncClient, segment: str
) -> None:
    body = account_json("BI-SEGMENT", datetime(2027, 1, 10).date(), segment=segment)
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    message = refused(response, 422, "segment")
    if len(segment) <= 40:
        assert "must never carry personal data" in message


@pytest.mark.parametrize("segment", ["standard", "subprime", "cn-2026_q4", "m1"])
def test_segment_slugs_in_use_are_accepted(segment: str) -> None:
    assert check_segment(segment) == segment
