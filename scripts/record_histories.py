"""Record workflow histories of representative episodes into a new versioned folder under
tests/histories/ (never over old ones), so later code changes are proven to replay them.

Run with `make histories`. Each episode runs on the time-skipping server with the real worker.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from arrears.settings import Settings
from domain.account import Account, PaymentIn, PromiseIn
from domain.calendar import local_date, local_instant
from domain.outcomes import HardshipIn
from domain.strategy import load_strategy
from store.agencies import add_agency
from store.engine import session_scope
from store.migrate import upgrade
from worker.main import build_worker
from worker.search_attributes import ensure_search_attributes
from workflows.messages import (
    AccountWorkflowInput,
    HardshipRequest,
    PromiseRequest,
    ReassignRequest,
    workflow_id_for,
)

TZ = "Asia/Shanghai"
ROOT = Path(__file__).resolve().parent.parent / "tests" / "histories"


def _account(loan_id: str, due: date, amounts: tuple[str, ...] = ("1200.00",)) -> Account:
    return Account.model_validate(
        {
            "loan_id": loan_id,
            "borrower": {
                "name": "Test Borrower",
                "timezone": TZ,
                "phones": [{"kind": "mobile", "number": "+8613800138000"}],
            },
            "instalments": [
                {"seq": i + 1, "due_date": (due + timedelta(days=31 * i)).isoformat(), "amount": a}
                for i, a in enumerate(amounts)
            ],
            "penalty_rate_daily": "0.0005",
        }
    )


Episode = Callable[[WorkflowEnvironment, WorkflowHandle, date], Awaitable[None]]


async def _until(env: WorkflowEnvironment, day: date, hour: int = 12) -> None:
    target = local_instant(day, time(hour), TZ)
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


async def _paid_on_time(env: WorkflowEnvironment, handle: WorkflowHandle, due: date) -> None:
    await _until(env, due - timedelta(days=1))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("1200.00"), paid_at=await env.get_current_time()),
    )


async def _cured_at_dpd_10(env: WorkflowEnvironment, handle: WorkflowHandle, due: date) -> None:
    await _until(env, due + timedelta(days=10))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("1206.00"), paid_at=await env.get_current_time()),
    )


async def _promise_broken_then_cured(
    env: WorkflowEnvironment, handle: WorkflowHandle, due: date
) -> None:
    await _until(env, due + timedelta(days=3))
    promised = due + timedelta(days=5)
    await handle.execute_update(
        "promise",
        PromiseRequest(promise=PromiseIn(amount=Decimal("1200.00"), promised_date=promised)),
    )
    await _until(env, due + timedelta(days=35))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("2000.00"), paid_at=await env.get_current_time()),
    )


async def _unpaid_180_days(env: WorkflowEnvironment, handle: WorkflowHandle, due: date) -> None:
    await _until(env, due + timedelta(days=180))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("5000.00"), paid_at=await env.get_current_time()),
    )


async def _agency_recalled_then_paid(
    env: WorkflowEnvironment, handle: WorkflowHandle, due: date
) -> None:
    """Placed at DPD 60, a payment earns commission, recalled at the period's end (the only
    agency cannot take it again: legal), then paid in full: placement and case end."""
    await _until(env, due + timedelta(days=70))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("100.00"), paid_at=await env.get_current_time()),
    )
    await _until(env, due + timedelta(days=155))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p2", amount=Decimal("5000.00"), paid_at=await env.get_current_time()),
    )


async def _payment_plan_kept(env: WorkflowEnvironment, handle: WorkflowHandle, due: date) -> None:
    """Short-term hardship with a plan of two promises, kept; the account is reassigned."""
    today = due + timedelta(days=5)
    await _until(env, today)
    plan = [
        PromiseIn(amount=Decimal("600.00"), promised_date=today + timedelta(days=2)),
        PromiseIn(amount=Decimal("600.00"), promised_date=today + timedelta(days=6)),
    ]
    hardship = HardshipIn(cause="salary late", term="short", surmountable=True, plan=plan)
    await handle.execute_update("hardship", HardshipRequest(hardship=hardship, recorded_by="alice"))
    await handle.execute_update(
        "reassign", ReassignRequest(to="bob", by="carol", reason="workload")
    )
    await _until(env, today + timedelta(days=1))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p1", amount=Decimal("600.00"), paid_at=await env.get_current_time()),
    )
    await _until(env, today + timedelta(days=5))
    await handle.signal(
        "payment",
        PaymentIn(payment_id="p2", amount=Decimal("700.00"), paid_at=await env.get_current_time()),
    )


EPISODES: dict[str, Episode] = {
    "paid_on_time": _paid_on_time,
    "cured_at_dpd_10": _cured_at_dpd_10,
    "promise_broken_then_cured": _promise_broken_then_cured,
    "unpaid_180_days_then_paid": _unpaid_180_days,
    "agency_recalled_then_paid": _agency_recalled_then_paid,
    "payment_plan_kept": _payment_plan_kept,
}


async def _until_closed(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    for _ in range(400):
        description = await env.client.get_workflow_handle(handle.id).describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return
        await env.sleep(timedelta(days=1))
    raise RuntimeError(f"{handle.id} did not close")


async def _record_chain(client: Client, workflow_id: str, folder: Path, name: str) -> int:
    """Every run of the continue-as-new chain, oldest first, one file each."""
    runs: list[str] = []
    handle = client.get_workflow_handle(workflow_id)
    run_id = (await handle.describe()).run_id
    while run_id:
        runs.append(run_id)
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        attrs = history.events[0].workflow_execution_started_event_attributes
        run_id = attrs.continued_execution_run_id
    for index, run in enumerate(reversed(runs), start=1):
        history = await client.get_workflow_handle(workflow_id, run_id=run).fetch_history()
        (folder / f"{name}.run{index}.json").write_text(history.to_json(), encoding="utf-8")
    return len(runs)


async def main(version: str) -> None:
    folder = ROOT / version
    if folder.exists():
        sys.exit(f"{folder} exists: histories are never overwritten; pick a new version")
    folder.mkdir(parents=True)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/arrears.db"
            upgrade(url)
            with session_scope(url) as session:
                add_agency(
                    session, "Recorded Agency", Decimal("0.18"), 100, await env.get_current_time()
                )
            settings = Settings(DATABASE_URL=url, ARREARS_TASK_QUEUE=f"rec-{uuid.uuid4().hex[:6]}")
            strategy = load_strategy("default")
            with ThreadPoolExecutor(max_workers=32) as executor:
                async with build_worker(env.client, settings, executor):
                    for name, episode in EPISODES.items():
                        now: datetime = await env.get_current_time()
                        due = local_date(now, TZ) + timedelta(days=2)
                        account = _account(f"REC-{name}", due)
                        handle = await env.client.start_workflow(
                            "AccountWorkflow",
                            AccountWorkflowInput(account=account, strategy=strategy),
                            id=workflow_id_for(account.loan_id),
                            task_queue=settings.task_queue,
                        )
                        await episode(env, handle, due)
                        await _until_closed(env, handle)
                        runs = await _record_chain(env.client, handle.id, folder, name)
                        print(f"{name}: {runs} run(s)")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "v1"))
