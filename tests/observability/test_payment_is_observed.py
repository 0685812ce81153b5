"""One payment, followed through everything an operator watches (issue 18 items 1-3): the API's
and the worker's Prometheus metrics, the trace from the API call to the activity that booked it,
and the JSON log lines that carry the caller's request id into that activity."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from tests.conftest import AUDITOR, LOAN_SYSTEM
from tests.observability.conftest import Observed
from tests.workflows.helpers import account_json, business_today, sleep_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


async def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not observed in time")
        await asyncio.sleep(0.2)


async def open_and_pay(
    env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str, request_id: str
) -> httpx.Response:
    due = await business_today(env) + timedelta(days=2)
    created = await api.post(
        "/v1/accounts",
        json=account_json(loan, due),
        headers={**LOAN_SYSTEM, "X-Request-ID": f"{request_id}-open"},
    )
    assert created.status_code == 201, created.text
    paid = await api.post(
        f"/v1/accounts/{loan}/payments",
        json={
            "payment_id": f"{loan}-P1",
            "amount": "100.00",
            "paid_at": (await env.get_current_time()).isoformat(),
        },
        headers={**LOAN_SYSTEM, "X-Request-ID": request_id},
    )
    assert paid.status_code == 202, paid.text
    return paid


async def test_a_payment_shows_in_the_api_and_worker_metrics(
    workflow_env: WorkflowEnvironment, observed: Observed
) -> None:
    await open_and_pay(workflow_env, observed.api, "L-OBS-METRICS", "req-metrics")

    async def worker_booked() -> Samples | None:
        async with httpx.AsyncClient() as http:
            found = samples((await http.get(observed.worker_metrics_url)).text)
        return found if value(found, "arrears_payments_applied_total", currency="CNY") else None

    worker = await eventually(worker_booked)
    assert value(worker, "arrears_payments_applied_total", activity_type="apply_moment") == 1
    assert any(name.startswith("temporal_") for name, _ in worker), "the SDK's own metrics"
    assert value(worker, "temporal_activity_execution_latency_count") >= 1

    scraped = await observed.api.get("/metrics")  # no key: Prometheus scrapes it
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    api = samples(scraped.text)
    route = "/v1/accounts/{loan_id}/payments"
    assert value(api, "arrears_http_requests_total", route=route, status="202") == 1
    assert value(api, "arrears_http_request_duration_seconds_count", route=route) == 1
    # The book, read from the store at scrape time: the account is there, pre-due.
    assert value(api, "arrears_accounts", state="pre_due") == 1
    assert ("arrears_loan_system_oldest_undelivered_seconds", ()) in api
    assert "L-OBS-METRICS" not in scraped.text  # a series per route, never per loan


async def test_one_payment_is_one_trace_from_the_api_through_the_workflow_to_the_activity(
    workflow_env: WorkflowEnvironment, observed: Observed
) -> None:
    await open_and_pay(workflow_env, observed.api, "L-OBS-TRACE", "req-trace")

    def named(prefix: str) -> list[ReadableSpan]:
        return [s for s in observed.spans.get_finished_spans() if s.name.startswith(prefix)]

    def payment_trace() -> list[ReadableSpan]:
        calls = [s for s in named("POST /v1/accounts/{loan_id}/payments") if s.parent is None]
        if not calls:
            return []
        trace_id = calls[0].context.trace_id
        return [s for s in observed.spans.get_finished_spans() if s.context.trace_id == trace_id]

    async def booked() -> list[ReadableSpan] | None:
        spans = payment_trace()
        return spans if any(s.name == "RunActivity:apply_moment" for s in spans) else None

    spans = await eventually(booked)
    names = {s.name for s in spans}
    assert "StartWorkflowUpdate:record_payment" in names  # the API's client call
    assert "StartActivity:apply_moment" in names  # scheduled by the workflow
    assert "RunActivity:apply_moment" in names  # run by the worker
    by_id = {s.context.span_id: s for s in spans}
    run = next(s for s in spans if s.name == "RunActivity:apply_moment")
    chain = []
    span: ReadableSpan | None = run
    while span is not None:
        chain.append(span.name)
        span = by_id.get(span.parent.span_id) if span.parent else None
    assert chain[0] == "RunActivity:apply_moment"
    assert "StartActivity:apply_moment" in chain and "StartWorkflowUpdate:record_payment" in chain
    assert chain[-1] == "POST /v1/accounts/{loan_id}/payments"
    # the activity's SQL is in the same trace, under the activity
    assert any(
        s.parent is not None and s.parent.span_id == run.context.span_id
        for s in spans
        if s.name != run.name
    ), "no store statement under the activity"
    # the account's opening is another trace: it does not swallow the payment's activity
    opening = [s for s in named("POST /v1/accounts") if s.name == "POST /v1/accounts"]
    assert opening and opening[0].context.trace_id != run.context.trace_id


async def test_the_callers_request_id_reaches_the_activity_that_booked_the_payment(
    workflow_env: WorkflowEnvironment, observed: Observed, json_logs: io.StringIO
) -> None:
    paid = await open_and_pay(workflow_env, observed.api, "L-OBS-LOGS", "req-7f3a")
    assert paid.headers["X-Request-ID"] == "req-7f3a"

    async def booked_line() -> dict[str, Any] | None:
        for line in json_logs.getvalue().splitlines():
            record = json.loads(line)
            if record.get("logger") == "activities.moment" and "payments 1" in record["message"]:
                return dict(record)
        return None

    record = await eventually(booked_line)
    assert record["correlation_id"] == "req-7f3a"
    assert record["workflow_id"] == "account-L-OBS-LOGS"
    assert record["loan_id"] == "L-OBS-LOGS"
    assert record["activity"] == "apply_moment"
    assert record["run_id"]
    assert record["level"] == "INFO" and record["timestamp"].endswith("Z")
    text = json_logs.getvalue()
    assert "Wang Fang" not in text and "13800138000" not in text


async def test_a_request_id_that_is_not_an_id_is_replaced(observed: Observed) -> None:
    answered = await observed.api.get(
        "/health/live", headers={"X-Request-ID": "call +8613800138000 now"}
    )
    given = answered.headers["X-Request-ID"]
    assert given != "call +8613800138000 now" and len(given) == 32


async def test_a_scenarios_logs_name_no_borrower_and_show_no_full_number(
    workflow_env: WorkflowEnvironment, observed: Observed, json_logs: io.StringIO
) -> None:
    """A pre-due SMS through the Twilio SDK (whose HTTP log carries `To=%2B86...`) and a payment:
    every line of the run is scanned for the borrower's name, address and numbers."""
    loan = "L-OBS-SCAN"
    await open_and_pay(workflow_env, observed.api, loan, "req-scan")
    await sleep_until(workflow_env, await business_today(workflow_env) + timedelta(days=3))

    async def texted() -> int:
        listed = await observed.api.get(f"/v1/accounts/{loan}/actions", headers=AUDITOR)
        return sum(a["channel"] == "sms" and a["status"] == "sent" for a in listed.json())

    await eventually(texted)

    async def counted() -> float:
        async with httpx.AsyncClient() as http:
            found = samples((await http.get(observed.worker_metrics_url)).text)
        return value(found, "arrears_contacts_total", channel="sms", decision="sent")

    async def agree() -> bool:  # the worker counted each SMS it delivered, once
        return await counted() == await texted()

    assert await eventually(agree)
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert any(line["logger"].startswith("twilio") for line in lines), "the SDK's lines scanned"
    text = json_logs.getvalue()
    for secret in ("Wang Fang", "Renmin", "13800138000", "8613800138000", "%2B86138"):
        assert secret not in text, secret
    # the reminder was the timer's doing, not the payment's: it carries no request id
    sms = [line for line in lines if line["logger"].startswith("twilio")]
    assert all("correlation_id" not in line and line["loan_id"] == loan for line in sms)
