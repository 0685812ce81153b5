"""Memory per open workflow (issue 19: at most 150 KB per open AccountWorkflow at 10,000 open),
beside a bare workflow measured the same way in the same run, and the state each one carries.

    python -m bench.memory [--workflows N] [--overdue DAYS] [--breakdown]

One time-skipping server (the simulator's binary), a temporary SQLite store and the sandbox
gateway. Two worker processes, each alone on its own task queue with a workflow cache that
holds every run it is given: the real `arrears worker` for AccountWorkflow, and
`bench.bare_worker` for the bare baseline (`bench/bare_workflow.py`). For each: a few warm-up
workflows (the modules a run imports are loaded once per process, not per run), the process's
RSS, then N workflows started, the process left until its CPU stands still (every run has
reached its long sleep), and its RSS again. RSS growth / N is the memory per open workflow.

Virtual time does not move (nothing waits on a result), so every run stays open and cached.
The accounts are the API's example account with their first instalment due in two days (they
sleep until the pre-due reminder), or `--overdue DAYS` past due (they have entered collection,
fired their first steps through the gateway and written their first moments).

State sizes, per AccountWorkflow: the start input, the status query's answer and the
continue-as-new input, each as JSON and as the encrypted payload the server stores; the
continue-as-new input also after 120 days unpaid, decided by the same pure modules
(`Episode.carried`). `--breakdown` also runs N pre-due workflows on a worker inside this
process under tracemalloc and prints what the retained allocations are, by file.

Memory does not depend on load, so this figure is fair on a shared machine; wall time is not
reported."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.bare_worker import READY as BARE_READY
from bench.bare_workflow import BareWorkflow
from core.search_attributes import ensure_search_attributes
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import data_converter, sandbox_runner
from domain.account import Account
from domain.calendar import local_date, local_instant
from domain.policy import PolicyRegistry, install_registry, pin_policy
from simulator.stack import NOBODY, TEST_SERVER, sandbox_gateway
from simulator.worker_processes import extra_workers
from store.migrate import upgrade
from workflows import WORKFLOWS
from workflows.account import SANDBOX_SHARED, ladder
from workflows.account.episode import Episode
from workflows.contracts import (
    ACCOUNT_WORKFLOW,
    AccountQuery,
    AccountStatus,
    AccountWorkflowInput,
    workflow_id_for,
)

__all__ = ["main", "measure"]

WARM_UP = 5
SETTLED_CPU_SECONDS = 0.05  # CPU a settled worker may still use per second (pollers)
SETTLE_TIMEOUT = 900.0
SAMPLE = 20  # workflows whose status is queried


def _proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


async def _settle(pid: int) -> float:
    """Wait until the process's CPU stands still for 3 s in a row; the seconds it took."""
    began = time.monotonic()
    quiet = 0
    last = _cpu_seconds(pid)
    while quiet < 3 and time.monotonic() - began < SETTLE_TIMEOUT:
        await asyncio.sleep(1)
        now = _cpu_seconds(pid)
        quiet = quiet + 1 if now - last <= SETTLED_CPU_SECONDS else 0
        last = now
    return round(time.monotonic() - began, 1)


def example_account(loan_id: str, due: date) -> Account:
    """The API's documented example account (domain.account.Account), renamed and re-dated."""
    example = Account.model_config.get("json_schema_extra", {})["examples"][0]  # type: ignore[index]
    payload = json.loads(json.dumps(example))
    payload["loan_id"] = loan_id
    payload["instalments"] = [
        {"seq": 7, "due_date": due.isoformat(), "amount": "1200.00"},
        {"seq": 8, "due_date": (due + timedelta(days=31)).isoformat(), "amount": "1200.00"},
    ]
    return Account.model_validate(payload)


async def _measure_process(pid: int, start: Callable[[int, int], Any], n: int) -> dict[str, Any]:
    """RSS of `pid` after WARM_UP workflows and after n more, all settled."""
    for i in range(WARM_UP):
        await start(i, WARM_UP + n)
    await _settle(pid)
    before = _proc_status(pid, "VmRSS")
    for i in range(WARM_UP, WARM_UP + n):
        await start(i, WARM_UP + n)
    settle_seconds = await _settle(pid)
    after = _proc_status(pid, "VmRSS")
    return {
        "workflows": n,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "rss_peak_bytes": _proc_status(pid, "VmHWM"),
        "bytes_per_open_workflow": round((after - before) / n),
        "settled_after_seconds": settle_seconds,
    }


@contextlib.asynccontextmanager
async def _bare_process(address: str, queue: str, cache: int, log: Path) -> AsyncIterator[int]:
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.bare_worker", address, queue, str(cache)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while BARE_READY not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare worker did not start: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _payload_bytes(client: Client, value: Any) -> int:
    payloads = await client.data_converter.encode([value])
    return len(payloads[0].data)


async def state_sizes(
    client: Client, registry: PolicyRegistry, account: Account, now: datetime, status: Any
) -> dict[str, Any]:
    """The start input, a status answer and the continue-as-new input (at the start and after
    120 days unpaid), as JSON and as stored payloads."""
    pinned = pin_policy(registry, registry.current("strategy", "default"), account.jurisdiction)
    start = AccountWorkflowInput(account=account, policy=pinned)
    ep = Episode(start, pinned.resolve(registry))
    ep.s.episode = uuid.uuid4().hex
    ladder.advance(ep, now)
    carried_now = AccountWorkflowInput(policy=pinned, carried=ep.carried(now).model_copy(deep=True))
    tz = account.borrower.timezone
    day = local_date(now, tz)
    for _ in range(120):
        day += timedelta(days=1)
        for hour in (9, 14, 19):
            at = local_instant(day, clock(hour), tz)
            ladder.advance(ep, at)
            ladder.plan_next(ep, at)
            ep.take_moment("bench", at)
    later = local_instant(day, clock(22), tz)
    carried_late = AccountWorkflowInput(policy=pinned, carried=ep.carried(later))

    def json_bytes(value: Any) -> int:
        return len(value.model_dump_json().encode())

    return {
        "start_input": {
            "json": json_bytes(start),
            "payload": await _payload_bytes(client, start),
        },
        "status": {"json": json_bytes(status), "payload": await _payload_bytes(client, status)},
        "continue_as_new_input_at_start": {
            "json": json_bytes(carried_now),
            "payload": await _payload_bytes(client, carried_now),
        },
        "continue_as_new_input_after_120_days_unpaid": {
            "json": json_bytes(carried_late),
            "payload": await _payload_bytes(client, carried_late),
            "state": ep.s.state,
            "stage": ep.s.stage,
        },
    }


async def _account_starter(
    client: Client, settings: Settings, registry: PolicyRegistry, due: date, prefix: str
) -> tuple[Callable[[int, int], Any], list[WorkflowHandle[Any, Any]]]:
    handles: list[WorkflowHandle[Any, Any]] = []
    strategy = registry.current("strategy", "default")

    async def start(i: int, _total: int) -> None:
        account = example_account(f"{prefix}-{i:05d}", due)
        pinned = pin_policy(registry, strategy, account.jurisdiction)
        handles.append(
            await client.start_workflow(
                ACCOUNT_WORKFLOW,
                AccountWorkflowInput(account=account, policy=pinned),
                id=workflow_id_for(account.loan_id),
                task_queue=settings.task_queue,
            )
        )

    return start, handles


async def measure(n: int, overdue: int, breakdown: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    database_url = f"sqlite:///{workdir / 'arrears.db'}"
    await asyncio.to_thread(upgrade, database_url)
    cache = n + WARM_UP + 100
    result: dict[str, Any] = {"workflows": n, "overdue_days": overdue, "cache_size": cache}
    async with sandbox_gateway() as sandbox_url:
        settings = Settings(
            DATABASE_URL=database_url,
            ARREARS_TASK_QUEUE=f"memory-{uuid.uuid4().hex[:8]}",
            ARREARS_API_KEYS=DEMO_API_KEYS,
            ARREARS_DATA_DIR=workdir / "data",
            ARREARS_SANDBOX_URL=sandbox_url,
            ARREARS_PUBLIC_URL=NOBODY,
            ARREARS_WORKER_CACHE_SIZE=cache,
        )
        registry = PolicyRegistry.load(settings.policy_dir)
        previous = install_registry(registry)
        from temporalio.testing import WorkflowEnvironment

        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(settings), test_server_existing_path=str(TEST_SERVER)
        )
        try:
            client = env.client
            await ensure_search_attributes(client, client.namespace)
            address = client.service_client.config.target_host
            now = await env.get_current_time()
            today = local_date(now, "Asia/Shanghai")  # the example account's zone
            due = today - timedelta(days=overdue) if overdue else today + timedelta(days=2)
            command = (sys.executable, "-m", "arrears.cli", "worker")
            async with extra_workers(command, 1, settings, address, workdir / "logs") as extra:
                pid = extra.processes[0].pid
                start, handles = await _account_starter(client, settings, registry, due, "MEM")
                result["account"] = await _measure_process(pid, start, n)
                open_runs = 0
                statuses = []
                for handle in handles[-SAMPLE:]:
                    description = await handle.describe()
                    open_runs += description.status is not None and description.status.value == 1
                    statuses.append(
                        await handle.query(AccountQuery.STATUS, result_type=AccountStatus)
                    )
                result["account"]["sampled_open"] = f"{open_runs}/{len(statuses)}"
                result["account"]["sampled_states"] = sorted({s.state for s in statuses})
            result["sizes"] = await state_sizes(
                client, registry, example_account("MEM-SIZE", due), now, statuses[-1]
            )
            bare_queue = f"bare-{uuid.uuid4().hex[:8]}"
            async with _bare_process(address, bare_queue, cache, workdir / "bare.log") as bare:
                bare_handles: list[WorkflowHandle[Any, Any]] = []

                async def start_bare(i: int, _total: int) -> None:
                    bare_handles.append(
                        await client.start_workflow(
                            BareWorkflow.run,
                            args=[180, 16, 16],
                            id=f"bare-{i}",
                            task_queue=bare_queue,
                        )
                    )

                result["bare"] = await _measure_process(bare, start_bare, n)
            if breakdown:
                result["breakdown"] = await _breakdown(client, settings, registry, due, n)
        finally:
            await env.shutdown()
            install_registry(previous)
    account, bare_figures = result["account"], result["bare"]
    result["ratio_account_to_bare"] = round(
        account["bytes_per_open_workflow"] / max(1, bare_figures["bytes_per_open_workflow"]), 2
    )
    return result


async def _breakdown(
    client: Client, settings: Settings, registry: PolicyRegistry, due: date, n: int
) -> dict[str, Any]:
    """N pre-due AccountWorkflows on a worker in this process (no activity is due before the
    reminder), under tracemalloc: the allocations still held once they sleep, by file."""
    queue = f"breakdown-{uuid.uuid4().hex[:8]}"
    breakdown_settings = settings.model_copy(update={"task_queue": queue})
    start, _ = await _account_starter(client, breakdown_settings, registry, due, "TRACE")
    async with Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=[],
        workflow_runner=sandbox_runner(SANDBOX_SHARED),
        max_cached_workflows=n + WARM_UP + 100,
    ):
        for i in range(WARM_UP):
            await start(i, n)
        await asyncio.sleep(5)
        tracemalloc.start(1)
        first = tracemalloc.take_snapshot()
        for i in range(WARM_UP, WARM_UP + n):
            await start(i, n)
        await asyncio.sleep(10)
        second = tracemalloc.take_snapshot()
        tracemalloc.stop()
    stats = second.compare_to(first, "filename")
    total = sum(s.size_diff for s in stats)
    top = [
        {
            "file": _short(s.traceback[0].filename),
            "kib_per_workflow": round(s.size_diff / n / 1024, 1),
        }
        for s in stats[:15]
    ]
    return {"retained_kib_per_workflow": round(total / n / 1024, 1), "by_file": top}


ROOT = Path(__file__).resolve().parents[1]


def _short(filename: str) -> str:
    """The file relative to the checkout, site-packages or the standard library."""
    if filename.startswith(str(ROOT)):
        return filename[len(str(ROOT)) + 1 :]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--overdue", type=int, default=0, help="days past due at the start")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.workflows, args.overdue, args.breakdown))
    text = json.dumps(result, indent=2, default=str)
    print(text)
    out = args.out or Path("bench/results") / f"memory-N{args.workflows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
