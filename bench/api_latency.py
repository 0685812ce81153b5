"""API latency against a running `arrears up` (a script, not a test).

    .venv/bin/python bench/api_latency.py [--url http://127.0.0.1:8000] [--temporal localhost:7233]

Measures, on the same server in the same run:

- p50/p99 of `POST /v1/accounts/{id}/payments` and of `GET /v1/accounts/{id}`;
- accounts started per second through `POST /v1/accounts:batch`;
- p50/p99 of payment → status updated (post a payment, poll the status until `paid_total` shows it);

each beside a bare Temporal baseline: a minimal workflow started, signalled and queried directly
with the temporalio client (its own worker, in this process, on its own task queue), and the ratio
API / baseline. Results go to bench/results/api_latency.json. The accounts and baseline workflows
it starts are terminated at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

# The batch endpoint's own bound (api/routes/batch.py CONCURRENCY; bench imports no process
# code): bare starts run at the same concurrency.
BATCH_CONCURRENCY = 64

RESULTS = Path(__file__).resolve().parent / "results" / "api_latency.json"
LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}
SUPERVISOR = {"Authorization": "Bearer demo-supervisor"}


@workflow.defn(name="BenchPing", sandboxed=False)
class BenchPing:
    """The baseline: a workflow that only counts signals and answers a query."""

    def __init__(self) -> None:
        self._count = 0
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        return self._count

    @workflow.signal
    def ping(self, amount: int) -> None:
        self._count += amount

    @workflow.signal
    def stop(self) -> None:
        self._done = True

    @workflow.query
    def count(self) -> int:
        return self._count


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 2)  # ms


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": pct(samples, 50),
        "p99_ms": pct(samples, 99),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "n": len(samples),
    }


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


def account(loan_id: str, due: date) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "borrower": {
            "name": "Bench Borrower",
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "phones": [{"kind": "mobile", "number": "+8613800138000"}],
            "consents": {"sms": False, "voice": False},
        },
        "currency": "CNY",
        "instalments": [{"seq": 1, "due_date": due.isoformat(), "amount": "100000.00"}],
        "penalty_rate_daily": "0.0005",
    }


async def bench_api(http: httpx.AsyncClient, prefix: str, n: int, batch: int) -> dict[str, Any]:
    due = datetime.now(UTC).date() + timedelta(days=2)
    loans = [f"{prefix}-{i}" for i in range(batch)]
    start = time.perf_counter()
    response = await http.post(
        "/v1/accounts:batch", json=[account(x, due) for x in loans], headers=LOAN_SYSTEM
    )
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    counts = response.json()["counts"]
    assert counts["started"] == batch, counts
    paid_at = datetime.now(UTC).isoformat()

    async def pay(loan_id: str, k: int, amount: str = "1.00") -> None:
        body = {"payment_id": f"{loan_id}-{k}", "amount": amount, "paid_at": paid_at}
        r = await http.post(f"/v1/accounts/{loan_id}/payments", json=body, headers=LOAN_SYSTEM)
        assert r.status_code == 202, r.text

    async def status(loan_id: str) -> dict[str, Any]:
        r = await http.get(f"/v1/accounts/{loan_id}", headers=SUPERVISOR)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    payments = [await timed(functools.partial(pay, loans[i % batch], i)) for i in range(n)]
    reads = [await timed(functools.partial(status, loans[i % batch])) for i in range(n)]
    visible = []
    for i in range(max(20, n // 4)):
        loan_id = loans[i % batch]
        before = float((await status(loan_id))["paid_total"])
        start = time.perf_counter()
        await pay(loan_id, 10_000 + i, "2.00")
        while float((await status(loan_id))["paid_total"]) < before + 2:
            pass
        visible.append(time.perf_counter() - start)
    return {
        "loans": loans,
        "payment_post": summary(payments),
        "status_get": summary(reads),
        "payment_to_status": summary(visible),
        "batch": {"accounts": batch, "seconds": round(elapsed, 3), "per_second": batch / elapsed},
    }


async def bench_temporal(client: Client, n: int, batch: int) -> dict[str, Any]:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[BenchPing], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)  # the batch endpoint's bound

        async def start(i: int) -> None:
            async with gate:
                handle = await client.start_workflow(
                    BenchPing.run, id=f"{queue}-{i}", task_queue=queue
                )
                # The batch answers each item's status; the query waits for the first task, and
                # at the endpoint's concurrency on a busy machine that can pass the default RPC
                # timeout (the API's own first query has the server's longer default).
                await handle.query(BenchPing.count, rpc_timeout=timedelta(seconds=60))

        t0 = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(batch)))
        elapsed = time.perf_counter() - t0
        handles = [client.get_workflow_handle(f"{queue}-{i}") for i in range(batch)]
        signals = [
            await timed(functools.partial(handles[i % batch].signal, BenchPing.ping, 1))
            for i in range(n)
        ]
        queries = [
            await timed(functools.partial(handles[i % batch].query, BenchPing.count))
            for i in range(n)
        ]
        visible = []
        for i in range(max(20, n // 4)):
            handle = handles[i % batch]
            before = await handle.query(BenchPing.count)
            t0 = time.perf_counter()
            await handle.signal(BenchPing.ping, 2)
            while await handle.query(BenchPing.count) < before + 2:
                pass
            visible.append(time.perf_counter() - t0)
        for handle in handles:
            await handle.signal(BenchPing.stop)
        for handle in handles:
            await handle.result()
    return {
        "signal": summary(signals),
        "query": summary(queries),
        "signal_to_query": summary(visible),
        "start": {"workflows": batch, "seconds": round(elapsed, 3), "per_second": batch / elapsed},
    }


def ratio(api: dict[str, float], base: dict[str, float]) -> dict[str, float]:
    return {k: round(api[k] / base[k], 2) for k in ("p50_ms", "p99_ms") if base[k]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--temporal", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("-n", type=int, default=300, help="calls per latency measurement")
    parser.add_argument("--batch", type=int, default=200, help="accounts in the batch start")
    args = parser.parse_args()
    client = await Client.connect(args.temporal, namespace=args.namespace)
    prefix = f"BENCH-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=args.url, timeout=60) as http:
        health = await http.get("/health")
        assert health.status_code == 200, f"arrears is not up at {args.url}: {health.text}"
        api = await bench_api(http, prefix, args.n, args.batch)
    base = await bench_temporal(client, args.n, args.batch)
    for loan_id in api.pop("loans"):
        with contextlib.suppress(Exception):  # already closed
            await client.get_workflow_handle(f"account-{loan_id}").terminate("benchmark done")
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "api_url": args.url,
        "temporal": args.temporal,
        "api": api,
        "temporal_baseline": base,
        "ratio_api_to_baseline": {
            "payment_post_vs_signal": ratio(api["payment_post"], base["signal"]),
            "status_get_vs_query": ratio(api["status_get"], base["query"]),
            "payment_to_status_vs_signal_to_query": ratio(
                api["payment_to_status"], base["signal_to_query"]
            ),
            "batch_starts_per_second_vs_bare_starts": round(
                api["batch"]["per_second"] / base["start"]["per_second"], 2
            ),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
