"""Regenerate docs/samples/timeline-180-days.html: the explained timeline of one full 180-day
collection episode, as an auditor would receive it (issue 8).

Everything runs in this process on Temporal's time-skipping test server with the real worker,
the API served on a local port (so the sandbox SMS gateway's signed status callbacks and the
borrower's STOP reach our webhooks for real), the sandbox gateway, and a throw-away store. The
episode shows every kind of entry the timeline knows:

- the pre-due and overdue texts with the provider's delivery status (`delivered`);
- a worked call: claimed, outcome `promise_to_pay` with notes; the promise breaks;
- the borrower answers STOP; the next ladder text is refused by `consent.sms`;
- a dispute hold placed and released by two collectors;
- a changed instalment schedule from the loan system;
- an agency placement with a registered agency, its recall at the end of the placement period,
  and the legal steps after it;
- a partial payment, a repeated payment counted once, and the payment that cures the account.

Usage: `arrears dev sample-timeline [OUTPUT]` from a checkout (default
docs/samples/timeline-180-days.html).
The borrower is synthetic (made-up name, phone and address) and the report masks them anyway.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from audit.timeline import Timeline, build_timeline, render_html
from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, DEV_PAYLOAD_KEY, Settings
from core.temporal import data_converter
from domain.calendar import local_date, local_instant
from sandbox.app import GatewayConfig, create_gateway_app
from simulator.stack import Processes
from store.agencies import add_agency
from store.engine import get_engine, session_scope
from store.migrate import upgrade
from store.models import TaskRow
from workflows.contracts import workflow_id_for

OUTPUT = Path("docs") / "samples" / "timeline-180-days.html"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
TZ = "Asia/Shanghai"
LOAN = "L-SAMPLE-180"
MOBILE = "+8613800138000"

LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}
ALICE = {"Authorization": "Bearer demo-collector"}
BOB = {"Authorization": "Bearer demo-collector-2"}


class SampleError(RuntimeError):
    """The episode did not go as scripted (an API call refused, a task missing)."""


@dataclass
class Rig:
    env: WorkflowEnvironment
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    database_url: str

    async def until(self, day: date, hour: int = 12) -> None:
        """Skip virtual time to `hour`:00 borrower-local on `day`; real callbacks need a
        moment of wall-clock time to arrive, so the loop yields briefly after each skip."""
        target = local_instant(day, time(hour), TZ)
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)
        await asyncio.sleep(0.3)

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None, who: dict[str, str]
    ) -> dict[str, Any]:
        response = await self.api.request(method, path, json=body, headers=who)
        if response.status_code >= 300:
            raise SampleError(f"{method} {path}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    async def pay(self, payment_id: str, amount: str) -> None:
        paid_at = (await self.env.get_current_time()).isoformat()
        body = {"payment_id": payment_id, "amount": amount, "paid_at": paid_at}
        await self.call("POST", f"/v1/accounts/{LOAN}/payments", body, LOAN_SYSTEM)

    def open_task(self, kind: str) -> str:
        with session_scope(self.database_url) as session:
            rows = session.exec(
                select(TaskRow).where(TaskRow.loan_id == LOAN, TaskRow.kind == kind)
            ).all()
            found = sorted((r for r in rows if r.status == "open"), key=lambda r: r.action_seq)
        if not found:
            raise SampleError(f"no open {kind} task")
        return str(found[0].task_id)


def account(due: date) -> dict[str, Any]:
    """A synthetic borrower: the name, phone and address are made up."""
    return {
        "loan_id": LOAN,
        "borrower": {
            "name": "Zhao Lei",
            "locale": "zh-CN",
            "timezone": TZ,
            "phones": [{"kind": "mobile", "number": MOBILE}],
            "address": "8 Example Road, Pudong, Shanghai",
            "consents": {"sms": True, "voice": True},
        },
        "contacts": [],
        "currency": "CNY",
        "instalments": [{"seq": 7, "due_date": due.isoformat(), "amount": "1200.00"}],
        "penalty_rate_daily": "0.0005",
        "segment": "standard",
        "history": {"prior_delinquencies": 0, "ever_paid": True},
    }


async def episode(rig: Rig, due: date) -> None:
    await rig.call("POST", "/v1/accounts", account(due), LOAN_SYSTEM)
    # DPD 2: the first call task; Alice claims it and the borrower promises.
    await rig.until(due + timedelta(days=2), hour=11)
    task = rig.open_task("call")
    await rig.call("POST", f"/v1/tasks/{task}/claim", None, ALICE)
    promised = {"amount": "600.00", "promised_date": (due + timedelta(days=5)).isoformat()}
    await rig.call(
        "POST",
        f"/v1/tasks/{task}/outcome",
        {
            "outcome": "promise_to_pay",
            "promise": promised,
            "notes": "Zhao Lei will pay half on payday; lives at 8 Example Road",
        },
        ALICE,
    )
    # DPD 10: a dispute pauses collection; Bob releases it three days later.
    await rig.until(due + timedelta(days=10))
    await rig.call(
        "POST",
        f"/v1/accounts/{LOAN}/disputes",
        {"reason": "the borrower disputes the late fee", "notes": "Zhao Lei says he paid"},
        ALICE,
    )
    await rig.until(due + timedelta(days=13))
    await rig.call(
        "POST", f"/v1/accounts/{LOAN}/holds/dispute/release", {"notes": "fee explained"}, BOB
    )
    # DPD 14: the borrower answers STOP to the texts (through the gateway, like a handset).
    await rig.until(due + timedelta(days=14))
    answer = await rig.sandbox.post("/sandbox/inbound", json={"from": MOBILE, "body": "STOP"})
    if answer.status_code >= 300:
        raise SampleError(f"sandbox inbound: {answer.status_code} {answer.text}")
    # DPD 20: a partial payment, sent twice by the loan system; the schedule gets a new
    # instalment.
    await rig.until(due + timedelta(days=20))
    await rig.pay("P-20", "300.00")
    await rig.until(due + timedelta(days=21))
    await rig.pay("P-20", "300.00")
    new = {"seq": 8, "due_date": (due + timedelta(days=31)).isoformat(), "amount": "1200.00"}
    await rig.call("POST", f"/v1/accounts/{LOAN}/instalments", {"instalments": [new]}, LOAN_SYSTEM)
    # The agency works the account from DPD 60; legal steps follow; at DPD 180 the balance is
    # paid and the account cures.
    await rig.until(due + timedelta(days=180))
    balance = (await rig.call("GET", f"/v1/accounts/{LOAN}", None, LOAN_SYSTEM))["balance"]
    await rig.pay("P-180", str(Decimal(balance)))
    handle = rig.env.client.get_workflow_handle(workflow_id_for(LOAN))
    for _ in range(10):
        await rig.env.sleep(timedelta(days=1))
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
    raise SampleError("the episode did not close after the final payment")


async def generate(output: Path, processes: Processes) -> Timeline:
    with tempfile.TemporaryDirectory(prefix="arrears-sample-") as tmp:
        gateway_sock, api_sock = listening_socket(), listening_socket()
        database_url = f"sqlite:///{Path(tmp) / 'arrears.db'}"
        settings = Settings(
            DATABASE_URL=database_url,
            ARREARS_TASK_QUEUE=f"sample-{uuid.uuid4().hex[:6]}",
            ARREARS_API_KEYS=DEMO_API_KEYS,
            ARREARS_DATA_DIR=Path(tmp) / "data",
            ARREARS_SANDBOX_URL=url_of(gateway_sock),
            # The API is served for real: the gateway's status callbacks and the inbound STOP
            # arrive signed at our webhooks.
            ARREARS_PUBLIC_URL=url_of(api_sock),
            ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY,
        )
        upgrade(database_url)
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(settings), test_server_existing_path=str(TEST_SERVER)
        )
        try:
            await ensure_search_attributes(env.client, env.client.namespace)
            with session_scope(database_url) as session:
                now = await env.get_current_time()
                add_agency(session, "Eastern Recoveries Ltd", Decimal("0.18"), 100, now)
            app = processes.app(settings, env.client, env.get_current_time)
            gateway = create_gateway_app(GatewayConfig.from_settings(settings, callback_delay=0.01))
            sid, token, _from = settings.twilio_account
            async with (
                serve_in_background(gateway, gateway_sock),
                serve_in_background(app, api_sock, lifespan="off") as api_url,
                httpx.AsyncClient(base_url=api_url, timeout=60) as api,
                httpx.AsyncClient(
                    base_url=settings.sandbox_url, auth=(sid, token), timeout=60
                ) as sandbox,
            ):
                with ThreadPoolExecutor(max_workers=32) as executor:
                    async with processes.worker(env.client, settings, executor):
                        due = local_date(await env.get_current_time(), TZ) + timedelta(days=2)
                        await episode(Rig(env, api, sandbox, database_url), due)
                        timeline = await build_timeline(env.client, database_url, LOAN)
            if timeline is None:
                raise SampleError("no timeline")
            note = (
                "The episode ran on Temporal's time-skipping test server: its business times are "
                "virtual, which is why they can lie after the generation time."
            )
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(
                render_html(timeline, generated=datetime.now(UTC), note=note), encoding="utf-8"
            )
            return timeline
        finally:
            await env.shutdown()
            gateway_sock.close()
            api_sock.close()
            get_engine(database_url).dispose()
