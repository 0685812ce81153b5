"""Nothing lost (issue 7): a payment the API answered 202 for is in workflow history, duplicates
count once, a worker restart in the middle changes nothing; an API that cannot reach Temporal
answers 503 (retry), never 202."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from domain.account import PaymentIn
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.started import STARTED
from tests.workflows.helpers import account_json, business_today
from worker.main import build_worker
from workflows.contracts import AccountSignal, AccountUpdate, workflow_id_for

ACCOUNTS = 20
DISTINCT_PER_ACCOUNT = 8  # 160 distinct payments
DUPLICATES = 40  # 200 posts in all


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A payment waits one second (not ten) for a worker's answer before it goes as a signal:
    the test posts while no worker runs and must see those payments accepted."""
    return settings.model_copy(update={"payment_answer_seconds": 1.0})


def first_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """build_worker's worker without a workflow cache. The time-skipping test server does not
    move a workflow off the sticky queue of a worker that shut down (the real server does, after
    the sticky timeout or at once on the worker's shutdown call), so queries after the restart
    would wait for the dead worker forever; without a cache nothing is sticky."""
    return build_worker(client, settings, executor, cached_workflows=0)


async def payments_in_history(client: Client, loan_id: str) -> list[PaymentIn]:
    """Every payment in the account's history (the `record_payment` updates it accepted; the
    `payment` signals of earlier builds), decoded (payloads are encrypted)."""
    handle = client.get_workflow_handle(workflow_id_for(loan_id))
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name != AccountUpdate.PAYMENT:
                continue
            payloads = request.input.args.payloads
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name != AccountSignal.PAYMENT:
                continue
            payloads = attributes.input.payloads
        else:
            continue
        (payment,) = await client.data_converter.decode(payloads, [PaymentIn])
        found.append(payment)
    return found


async def test_concurrent_payments_with_duplicates_survive_a_worker_restart(
    workflow_env: WorkflowEnvironment, settings: Settings, api: httpx.AsyncClient
) -> None:
    client = workflow_env.client
    due = await business_today(workflow_env) + timedelta(days=1)
    loans = [f"NL-{i}" for i in range(ACCOUNTS)]
    rng = random.Random(7)
    posts: list[tuple[str, dict[str, Any]]] = []
    for loan_id in loans:
        for n in range(DISTINCT_PER_ACCOUNT):
            amount = Decimal(rng.randint(100, 2000)) / 100  # never more than the balance
            paid_at = datetime(2026, 12, 1, 2, n, tzinfo=UTC).isoformat()
            body = {"payment_id": f"{loan_id}-P{n}", "amount": str(amount), "paid_at": paid_at}
            posts.append((loan_id, body))
    posts += rng.sample(posts, DUPLICATES)  # the same payment_id reported twice
    rng.shuffle(posts)
    assert len(posts) == 200

    with ThreadPoolExecutor(max_workers=32) as executor:
        first = first_worker(client, settings, executor)
        first_run = asyncio.create_task(first.run())
        STARTED.extend(loans)
        started = await api.post(
            "/v1/accounts:batch",
            json=[account_json(loan_id, due) for loan_id in loans],
            headers=LOAN_SYSTEM,
        )
        assert started.json()["counts"]["started"] == ACCOUNTS, started.text

        accepted: list[tuple[str, dict[str, Any]]] = []
        lock = asyncio.Lock()
        gate = asyncio.Semaphore(50)

        async def post(loan_id: str, body: dict[str, Any]) -> None:
            async with gate:
                for _attempt in range(20):  # a 503 means not accepted: the caller retries
                    response = await api.post(
                        f"/v1/accounts/{loan_id}/payments", json=body, headers=LOAN_SYSTEM
                    )
                    if response.status_code != 503:
                        break
                    await asyncio.sleep(0.2)
                assert response.status_code == 202, response.text
                async with lock:
                    accepted.append((loan_id, body))

        # The first half with the first worker; the second half while it shuts down, while no
        # worker runs at all, and after build_worker's new worker started on the same queue.
        await asyncio.gather(*(post(loan, body) for loan, body in posts[:100]))
        stopping = asyncio.create_task(first.shutdown())
        later = [asyncio.create_task(post(loan, body)) for loan, body in posts[100:]]
        await stopping
        await first_run
        for _ in range(100):
            if len(accepted) >= 140:
                break
            await asyncio.sleep(0.05)
        accepted_without_worker = len(accepted) - 100
        second = build_worker(client, settings, executor)
        second_run = asyncio.create_task(second.run())
        try:
            await asyncio.gather(*later)
            await settle(api, loans, posts)
            await verify(client, api, loans, posts, accepted)
        finally:
            await second.shutdown()
            await second_run
    assert accepted_without_worker > 0  # payments were accepted while no worker was polling


async def verify(
    client: Client,
    api: httpx.AsyncClient,
    loans: list[str],
    posts: list[tuple[str, dict[str, Any]]],
    accepted: list[tuple[str, dict[str, Any]]],
) -> None:
    assert len(accepted) == 200
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for loan_id, body in {b["payment_id"]: (loan, b) for loan, b in posts}.values():
        expected[loan_id] += Decimal(body["amount"])
    answered = Counter(body["payment_id"] for _loan, body in accepted)
    for loan_id in loans:
        in_history = await payments_in_history(client, loan_id)
        # Every 202 is in history, and nothing that was not answered 202 is. A payment may be
        # there twice (a repeat; or the update and the signal it fell back to while no worker
        # answered): the workflow counts a payment_id once, as paid_total shows.
        assert set(Counter(p.payment_id for p in in_history)) == {
            pid for pid in answered if pid.startswith(f"{loan_id}-")
        }
        status = await api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
        assert Decimal(status.json()["paid_total"]) == expected[loan_id], loan_id


async def settle(
    api: httpx.AsyncClient, loans: list[str], posts: list[tuple[str, dict[str, Any]]]
) -> None:
    """Wait (with the second worker running) until every account's status shows its payments."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for loan_id, body in {b["payment_id"]: (loan, b) for loan, b in posts}.values():
        totals[loan_id] += Decimal(body["amount"])
    for _ in range(300):
        paid = {}
        for loan_id in loans:
            status = await api.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
            assert status.status_code == 200, status.text
            paid[loan_id] = Decimal(status.json()["paid_total"])
        if paid == dict(totals):
            return
        await asyncio.sleep(0.1)


async def test_an_api_that_cannot_reach_temporal_answers_503_never_202(database_url: str) -> None:
    payment = {"payment_id": "p-1", "amount": "10.00", "paid_at": "2026-12-01T10:00:00+08:00"}
    # Never connected (the first connection fails) ...
    settings = Settings(DATABASE_URL=database_url, TEMPORAL_ADDRESS="127.0.0.1:1")
    # ... and connected lazily, so the failure comes in the middle of the call.
    lazy = await Client.connect("127.0.0.1:1", lazy=True)
    for app in (create_app(settings), create_app(settings, client=lazy)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path, body in (
                ("/v1/accounts/L-1/payments", payment),
                (
                    "/v1/accounts/L-1/instalments",
                    {"instalments": [{"seq": 9, "due_date": "2027-03-01", "amount": "10.00"}]},
                ),
                ("/v1/accounts/L-1/disputes", {"reason": "fee"}),
            ):
                headers = LOAN_SYSTEM if "disputes" not in path else SUPERVISOR
                response = await client.post(path, json=body, headers=headers)
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["code"] == "service_unavailable" and "retry" in error["message"]
            status = await client.get("/v1/accounts/L-1", headers=SUPERVISOR)
            assert status.status_code == 503
