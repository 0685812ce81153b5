"""Record workflow histories of representative episodes into a new versioned folder under
tests/histories/ (never over old ones), so later code changes are proven to replay them.

Run with `make histories` (VERSION=vN to name the folder), which runs `arrears dev
record-histories VERSION` from the checkout: the command supplies the API and the worker
(simulator/stack.py `Processes`), as it does for the simulator. Everything runs in this process, as
in the test suite: the time-skipping server, the real worker, the API (driven with the demo
keys, as the loan system, collectors and supervisors would), the sandbox SMS/voice gateway and a
throw-away store in a temporary data directory. Nothing outside the temporary directory is
touched except the new folder.

The folder is written as `<version>.partial` and renamed when every episode has been recorded,
so a failed run never leaves a folder that looks complete (or blocks that version). Each
episode is exported like `arrears history --runs-dir` does (audit.export.fetch_chain): every
run of the account's continue-as-new chain and every child workflow (restructuring, write-off),
one plain `temporal workflow show --output json` file each. Payloads are encrypted with the
public dev key (core.settings.DEV_PAYLOAD_KEY), exactly as production encrypts with its own,
so the committed files hold no borrower data in clear and replay through the production codec.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from audit.export import export_envelope, fetch_chain, write_runs
from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, DEV_PAYLOAD_KEY, Settings
from core.temporal import data_converter
from domain.calendar import local_date, local_instant
from domain.contact import HolidayCalendars, use_calendars
from domain.policy import PolicyRegistry, install_registry, write_test_policy
from sandbox.app import GatewayConfig, create_gateway_app
from simulator.stack import Processes
from store.agencies import add_agency
from store.engine import get_engine, session_scope
from store.migrate import upgrade
from store.models import TaskRow
from workflows.contracts import workflow_id_for
from workflows.contracts.borrowers import borrower_workflow_id

# The calendar years the recording's policy holds: the suite's span (tests/conftest.py).
RECORDING_YEARS = range(2020, 2041)

TZ = "Asia/Shanghai"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


def default_root() -> Path:
    """tests/histories of the checkout the command runs in."""
    root = Path.cwd() / "tests" / "histories"
    if not root.is_dir():
        raise SystemExit(f"{root} is not a folder: run this from an arrears checkout")
    return root


LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}
COLLECTOR = {"Authorization": "Bearer demo-collector"}
SUPERVISOR = {"Authorization": "Bearer demo-supervisor"}
ANTI_FRAUD = {"Authorization": "Bearer demo-anti-fraud"}
LEGAL = {"Authorization": "Bearer demo-legal"}


class RecordingError(RuntimeError):
    """An episode did not go the way it was scripted (an API call refused, a task missing)."""


@dataclass
class Rig:
    """What an episode drives: the virtual clock, the API and the store."""

    env: WorkflowEnvironment
    api: httpx.AsyncClient
    database_url: str

    async def until(self, day: date, hour: int = 12) -> None:
        """Skip virtual time to `hour`:00 borrower-local on `day`."""
        target = local_instant(day, time(hour), TZ)
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)

    async def call(
        self, method: str, path: str, body: dict[str, Any], who: dict[str, str]
    ) -> dict[str, Any]:
        response = await self.api.request(method, path, json=body, headers=who)
        if response.status_code >= 300:
            raise RecordingError(f"{method} {path}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    async def start(
        self,
        loan: str,
        due: date,
        *,
        ever_paid: bool = True,
        prior: int = 0,
        borrower_id: str | None = None,
    ) -> None:
        body = _account(loan, due, ever_paid, prior)
        if borrower_id is not None:
            # One person with several loans (issue 16): a home number beside the mobile, so a
            # number reported dead leaves one to call.
            body["borrower"]["id"] = borrower_id
            body["borrower"]["phones"].append({"kind": "home", "number": "+862161234567"})
        await self.call("POST", "/v1/accounts", body, LOAN_SYSTEM)

    async def pay(self, loan: str, payment_id: str, amount: str) -> None:
        paid_at = (await self.env.get_current_time()).isoformat()
        body = {"payment_id": payment_id, "amount": amount, "paid_at": paid_at}
        await self.call("POST", f"/v1/accounts/{loan}/payments", body, LOAN_SYSTEM)

    async def pay_balance(self, loan: str, payment_id: str) -> None:
        response = await self.api.get(f"/v1/accounts/{loan}", headers=LOAN_SYSTEM)
        await self.pay(loan, payment_id, str(Decimal(response.json()["balance"])))

    def open_task(self, loan: str, kind: str) -> str:
        """The id of the account's oldest open task of this kind."""
        with session_scope(self.database_url) as session:
            rows = session.exec(
                select(TaskRow).where(TaskRow.loan_id == loan, TaskRow.kind == kind)
            ).all()
            found = sorted((r for r in rows if r.status == "open"), key=lambda r: r.action_seq)
            if not found:
                raise RecordingError(f"{loan}: no open {kind} task")
            return str(found[0].task_id)

    async def work(
        self, loan: str, kind: str, body: dict[str, Any], who: dict[str, str] = COLLECTOR
    ) -> None:
        task_id = self.open_task(loan, kind)
        await self.call("POST", f"/v1/tasks/{task_id}/outcome", body, who)
        await self.env.sleep(timedelta(minutes=5))


def _account(loan_id: str, due: date, ever_paid: bool, prior: int) -> dict[str, Any]:
    """A synthetic borrower (no real person): name, phone and address are made up."""
    return {
        "loan_id": loan_id,
        "borrower": {
            "name": "Test Borrower",
            "locale": "zh-CN",
            "timezone": TZ,
            "phones": [{"kind": "mobile", "number": "+8613800138000"}],
            "address": "1 Test Road, Shanghai",
            "consents": {"sms": True, "voice": True},
        },
        "contacts": [],
        "currency": "CNY",
        "instalments": [{"seq": 1, "due_date": due.isoformat(), "amount": "1200.00"}],
        "penalty_rate_daily": "0.0005",
        "segment": "standard",
        "history": {"prior_delinquencies": prior, "ever_paid": ever_paid},
    }


Episode = Callable[[Rig, str, date], Awaitable[Sequence[str] | None]]
"""Drives one episode of loan `loan`; may name more workflows to record beside the loan's own
(another loan of the same borrower, the borrower's authority)."""


async def _paid_on_time(rig: Rig, loan: str, due: date) -> None:
    await rig.start(loan, due)
    await rig.until(due - timedelta(days=1))
    await rig.pay(loan, "p1", "1200.00")


async def _cured_at_dpd_10(rig: Rig, loan: str, due: date) -> None:
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=10))
    await rig.pay_balance(loan, "p1")


async def _promise_broken_then_cured(rig: Rig, loan: str, due: date) -> None:
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=3))
    promised = {"amount": "1200.00", "promised_date": (due + timedelta(days=5)).isoformat()}
    await rig.call("POST", f"/v1/accounts/{loan}/promises", promised, SUPERVISOR)
    await rig.until(due + timedelta(days=35))
    await rig.pay(loan, "p1", "2000.00")


async def _unpaid_180_days(rig: Rig, loan: str, due: date) -> None:
    """Never paid for half a year: the whole ladder, the legal team approving the suit at DPD
    150 (four eyes: the step asked, frank approves), charge-off at 180, then paid."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=151))
    await rig.work(loan, "approval", {"outcome": "approved"}, LEGAL)  # frank
    await rig.until(due + timedelta(days=180))
    await rig.pay(loan, "p1", "5000.00")


async def _agency_recalled_then_paid(rig: Rig, loan: str, due: date) -> None:
    """Placed at DPD 60, a payment earns commission, recalled at the period's end (the only
    agency cannot take it again: legal), then paid in full: placement and case end."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=70))
    await rig.pay(loan, "p1", "100.00")
    await rig.until(due + timedelta(days=155))
    await rig.pay(loan, "p2", "5000.00")


async def _payment_plan_kept(rig: Rig, loan: str, due: date) -> None:
    """Short-term hardship with a plan of two promises, kept; the account is reassigned."""
    await rig.start(loan, due)
    today = due + timedelta(days=5)
    await rig.until(today)
    plan = [
        {"amount": "600.00", "promised_date": (today + timedelta(days=d)).isoformat()}
        for d in (2, 6)
    ]
    hardship = {"cause": "salary late", "term": "short", "surmountable": True, "plan": plan}
    await rig.call("POST", f"/v1/accounts/{loan}/hardship", hardship, SUPERVISOR)
    reassign = {"to": "bob", "reason": "workload"}
    await rig.call("POST", f"/v1/accounts/{loan}/reassign", reassign, SUPERVISOR)
    await rig.until(today + timedelta(days=1))
    await rig.pay(loan, "p1", "600.00")
    await rig.until(today + timedelta(days=5))
    await rig.pay(loan, "p2", "700.00")


async def _dispute_held_then_released(rig: Rig, loan: str, due: date) -> None:
    """A dispute stops collection at DPD 3 (hold and case); evidence at DPD 5; the case is
    rejected at DPD 9, which releases the hold; paid at 12."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=3))
    dispute = {"reason": "disputes the late fee"}
    opened = await rig.call("POST", f"/v1/accounts/{loan}/disputes", dispute, SUPERVISOR)
    case = f"/v1/cases/{opened['case']['case_id']}"
    await rig.until(due + timedelta(days=5))
    evidence = {"text": "the fee is in the signed contract", "document": "DOC-REC-1"}
    await rig.call("POST", f"{case}/evidence", evidence, SUPERVISOR)
    await rig.until(due + timedelta(days=9))
    await rig.call("POST", f"{case}/resolution", {"resolution": "rejected"}, SUPERVISOR)
    await rig.until(due + timedelta(days=12))
    await rig.pay_balance(loan, "p1")


async def _call_promise_kept(rig: Rig, loan: str, due: date) -> None:
    """The first call task (DPD 2) is worked: a promise to pay in three days, kept."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=2), hour=11)
    promised = (due + timedelta(days=5)).isoformat()
    promise = {"amount": "1200.00", "promised_date": promised}
    outcome = {
        "outcome": "promise_to_pay",
        "promise": promise,
        "missed_payment_reason": "short_of_cash",
    }
    await rig.work(loan, "call", outcome)
    await rig.until(due + timedelta(days=4))
    await rig.pay_balance(loan, "p1")


async def _never_paid_skip_traced(rig: Rig, loan: str, due: date) -> None:
    """A loan never paid is a skip from day one (skip-trace task); it pays at DPD 10."""
    await rig.start(loan, due, ever_paid=False)
    await rig.until(due + timedelta(days=1))
    rig.open_task(loan, "skip_trace")
    await rig.until(due + timedelta(days=10))
    await rig.pay_balance(loan, "p1")


async def _restructure_accepted_and_paid(rig: Rig, loan: str, due: date) -> None:
    """A recurring delinquent with a long-term hardship at DPD 5: the DebtRestructureWorkflow
    child offers a plan, the borrower accepts, the plan is paid and the account closes."""
    await rig.start(loan, due, prior=2)
    await rig.until(due + timedelta(days=5))
    hardship = {"cause": "job lost", "term": "long", "surmountable": True}
    effect = await rig.call("POST", f"/v1/accounts/{loan}/hardship", hardship, SUPERVISOR)
    if "restructuring offered" not in str(effect.get("effect")):
        raise RecordingError(f"{loan}: no restructure offer ({effect})")
    await rig.env.sleep(timedelta(minutes=5))
    await rig.call("POST", f"/v1/accounts/{loan}/restructure", {"decision": "accept"}, SUPERVISOR)
    await rig.env.sleep(timedelta(minutes=5))
    await rig.pay_balance(loan, "plan-all")


async def _deceased_written_off(rig: Rig, loan: str, due: date) -> None:
    """A death reported on the first call: the WriteOffWorkflow child verifies it, offers the
    heirs a settlement and is approved by another person (four eyes): written off."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=2), hour=11)
    await rig.work(loan, "call", {"outcome": "deceased_reported"})
    await rig.work(loan, "verification", {"outcome": "verified"}, ANTI_FRAUD)  # erin
    await rig.work(loan, "approval", {"outcome": "approved"}, SUPERVISOR)  # carol


async def _attorney_calls_then_released(rig: Rig, loan: str, due: date) -> None:
    """The borrower is represented from DPD 2: the ladder's calls go to the attorney's number,
    everything else waits; the representation ends at DPD 10 (its open calls are cancelled and
    the borrower is called again), and the account is paid at DPD 12."""
    await rig.start(loan, due)
    await rig.until(due + timedelta(days=2))
    attorney = {"name": "Recorded Counsel", "phone": "+8613700137000"}
    await rig.call("POST", f"/v1/accounts/{loan}/attorney", attorney, SUPERVISOR)
    await rig.until(due + timedelta(days=10))
    await rig.call("POST", f"/v1/accounts/{loan}/holds/attorney/release", {}, SUPERVISOR)
    await rig.until(due + timedelta(days=12))
    await rig.pay_balance(loan, "p1")


async def _borrower_two_loans(rig: Rig, loan: str, due: date) -> list[str]:
    """Two loans of one borrower (`borrower.id`, issue 16), each asking the BorrowerWorkflow
    before its contacts go out: their DPD 2 calls are one call task naming both (on whichever
    loan asked first; the other records `consolidated`), which finds the mobile dead, and the
    outcome reaches the other loan too (`shared_outcome`); loan 1 is reassigned and loan 2
    follows; both are paid. Recorded: both loans' chains and the borrower's own history."""
    other, person = f"{loan}-2", f"B-{loan}"
    await rig.start(loan, due, borrower_id=person)
    await rig.start(other, due, borrower_id=person)
    await rig.until(due + timedelta(days=2), hour=11)
    try:
        rig.open_task(loan, "call")
        holder = loan
    except RecordingError:
        holder = other
    await rig.work(holder, "call", {"outcome": "number_dead"})
    reassign = {"to": "bob", "reason": "workload"}
    await rig.call("POST", f"/v1/accounts/{loan}/reassign", reassign, SUPERVISOR)
    await rig.until(due + timedelta(days=6))
    await rig.pay_balance(loan, "p1")
    await rig.pay_balance(other, "p1")
    return [workflow_id_for(other), borrower_workflow_id(person)]


EPISODES: dict[str, Episode] = {
    "paid_on_time": _paid_on_time,
    "cured_at_dpd_10": _cured_at_dpd_10,
    "promise_broken_then_cured": _promise_broken_then_cured,
    "unpaid_180_days_then_paid": _unpaid_180_days,
    "agency_recalled_then_paid": _agency_recalled_then_paid,
    "payment_plan_kept": _payment_plan_kept,
    "dispute_held_then_released": _dispute_held_then_released,
    "call_promise_kept": _call_promise_kept,
    "never_paid_skip_traced": _never_paid_skip_traced,
    "restructure_accepted_and_paid": _restructure_accepted_and_paid,
    "deceased_written_off": _deceased_written_off,
    "attorney_calls_then_released": _attorney_calls_then_released,
    "borrower_two_loans": _borrower_two_loans,
}


async def _until_closed(rig: Rig, workflow_id: str) -> None:
    for _ in range(400):
        description = await rig.env.client.get_workflow_handle(workflow_id).describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return
        await rig.env.sleep(timedelta(days=1))
    raise RecordingError(f"{workflow_id} did not close within 400 days")


async def _record(rig: Rig, loan: str, folder: Path, workflow_id: str | None = None) -> list[Path]:
    """The episode's every run and child, as `arrears history --runs-dir` writes them (or
    another workflow's: the borrower's authority, still running, up to now)."""
    chain = await fetch_chain(rig.env.client, workflow_id or workflow_id_for(loan))
    return write_runs(export_envelope(chain, loan_id=loan), folder)


def target_folder(version: str, root: Path) -> Path:
    """The folder a version is recorded into; refused when it exists (never overwritten)."""
    if not version or "/" in version or version.startswith("."):
        raise SystemExit(f"{version!r} is not a version folder name (e.g. 1.1)")
    folder = root / version
    if folder.exists():
        raise SystemExit(f"{folder} exists: histories are never overwritten; pick a new version")
    return folder


async def record(
    version: str,
    processes: Processes,
    *,
    root: Path | None = None,
    names: Sequence[str] | None = None,
) -> list[Path]:
    """Record the named episodes (default: all) into root/version; the files written."""
    root = root or default_root()
    folder = target_folder(version, root)
    episodes = {name: EPISODES[name] for name in (names or EPISODES)}
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # a failed earlier run of this very version
    partial.mkdir(parents=True)
    written: list[Path] = []
    # Recorded with the policy the suite replays them with (tests/conftest.py: the shipped
    # strategies and profiles, calendars of 2020-2040 without public holidays): which festival
    # falls inside an episode's months from the day of the recording must not decide whether
    # the committed histories replay, and every reference they pin must be there at replay.
    previous = use_calendars(HolidayCalendars.fixed())
    try:
        with tempfile.TemporaryDirectory(prefix="arrears-histories-") as tmp:
            policy = write_test_policy(Path(tmp) / "policy", RECORDING_YEARS)
            previous_registry = install_registry(PolicyRegistry.load(policy))
            try:
                written = await _record_all(Path(tmp), partial, episodes, processes)
            finally:
                install_registry(previous_registry)
    finally:
        use_calendars(previous)
    partial.rename(folder)
    return [folder / path.name for path in written]


async def _record_all(
    tmp: Path, partial: Path, episodes: dict[str, Episode], processes: Processes
) -> list[Path]:
    # The sandbox gateway must know its own URL when it is built, hence the socket first.
    sock = listening_socket()
    sandbox_url = url_of(sock)
    database_url = f"sqlite:///{tmp / 'arrears.db'}"
    settings = Settings(
        DATABASE_URL=database_url,
        ARREARS_TASK_QUEUE=f"rec-{uuid.uuid4().hex[:6]}",
        ARREARS_API_KEYS=DEMO_API_KEYS,
        ARREARS_DATA_DIR=tmp / "data",
        ARREARS_SANDBOX_URL=sandbox_url,
        # Nobody serves status callbacks here: the gateway sends none.
        ARREARS_PUBLIC_URL="http://127.0.0.1:9",
        ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY,
        ARREARS_POLICY_DIR=tmp / "policy",
    )
    upgrade(database_url)
    gateway = create_gateway_app(
        GatewayConfig.from_settings(settings, callback_delay=0.01, status_callbacks=False)
    )
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings), test_server_existing_path=str(TEST_SERVER)
    )
    written: list[Path] = []
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        with session_scope(database_url) as session:
            add_agency(
                session, "Recorded Agency", Decimal("0.18"), 100, await env.get_current_time()
            )
        app = processes.app(settings, env.client, env.get_current_time)
        transport = httpx.ASGITransport(app=app)
        async with (
            serve_in_background(gateway, sock),
            httpx.AsyncClient(transport=transport, base_url="http://arrears.recorder") as api,
        ):
            rig = Rig(env, api, database_url)
            with ThreadPoolExecutor(max_workers=32) as executor:
                async with processes.worker(env.client, settings, executor):
                    for name, episode in episodes.items():
                        loan = f"REC-{name}"
                        due = local_date(await env.get_current_time(), TZ) + timedelta(days=2)
                        more = list(await episode(rig, loan, due) or [])
                        for workflow_id in [workflow_id_for(loan), *more]:
                            if workflow_id.startswith(workflow_id_for("")):
                                await _until_closed(rig, workflow_id)
                        files = await _record(rig, loan, partial)
                        for workflow_id in more:
                            files += await _record(rig, loan, partial, workflow_id)
                        written.extend(files)
                        print(f"{name}: {len(files)} history file(s)", flush=True)
    finally:
        await env.shutdown()
        sock.close()
        get_engine(database_url).dispose()
    return written
