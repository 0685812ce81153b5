"""The simulation loop: a synthetic portfolio through the real API, workflows and activities.

Each simulated day has four stops in the borrowers' local time (each off the grid, 5-55 seconds
into its minute to the microsecond: stalls.off_grid): 09:00 (borrowers pay what they planned;
the day's spontaneous draws), then one moment inside each of the playbook's right-party-contact
peaks (10:00-11:30, 14:00-16:30, 19:00-21:00), where simulated collectors work the tasks whose
window is open, up to their daily capacity. At every stop the simulator reads what the workflows
did since the last stop from the store, one query per table (actions, accounts), and lets each
borrower react. Only accounts with something to do cost an HTTP call, and calls go out
concurrently (bounded), one account's in turn (`_each_account_in_turn`).

Randomness: one `random.Random` per account, seeded from (seed, loan_id), draws in a fixed order
per account; the stop times come from a generator seeded by (seed, day). Together with a fixed
virtual start date this makes the same seed give the same summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time as wallclock
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest, UnlockTimeSkippingRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from domain.calendar import local_date, local_instant
from domain.strategy import load_strategy
from domain.vocabulary import (
    CLOSED_STATES,
    CONTACT_CHANNEL,
    OPEN_STATES,
    SENT_CONTACTS,
    AccountState,
)
from simulator.behaviour import Borrower, CallAnswer, rng_for
from simulator.records import CallLog, ProgressHook, RunConfig, SimulationState
from simulator.scenario import Scenario, SyntheticAccount, borrower_for, portfolio
from simulator.stack import SimStack
from simulator.stalls import StrandedWatch, busy, off_grid
from simulator.store_reads import read_store
from store.engine import as_utc, session_scope
from workflows.contracts import RestructureOfferDetail, StepDetail, read_detail, workflow_id_for
from workflows.contracts.borrowers import borrower_workflow_id

__all__ = ["CallLog", "RunConfig", "Simulation", "SimulationState"]

T = TypeVar("T")
log = logging.getLogger(__name__)

LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}
KEYS = {
    "alice": {"Authorization": "Bearer demo-collector"},
    "bob": {"Authorization": "Bearer demo-collector-2"},
    "carol": {"Authorization": "Bearer demo-supervisor"},
    "erin": {"Authorization": "Bearer demo-anti-fraud"},
    "frank": {"Authorization": "Bearer demo-legal"},
}
COLLECTORS = ("alice", "bob")
SUPERVISOR = "carol"
ANTI_FRAUD = "erin"  # verifications are the anti-fraud team's (PLAYBOOK.md section 8)
LEGAL = "frank"  # lawsuit filing approvals are the legal team's (issue 17 item 4)

NOT_SENT = frozenset({"blocked", "refused", "failed", "skipped", "cancelled", "contact_blocked"})
NOT_REACHED = frozenset(
    {"no_answer", "busy", "wrong_number", "number_dead", "visited_not_met", "address_invalid"}
)
PLAN_INTERVAL_DAYS = 30
"""Days between a restructure plan's instalments, as the borrower pays them."""
STALL_SECONDS = 20.0
"""Wall seconds of a virtual clock standing still before the simulator looks for a stall."""
NOT_DIALLED = "number_dead"
"""The outcome a collector records for a call task to a number already reported dead."""
WITHDRAWN = "task_withdrawn_before_worked"
"""Errors key of a listed task the workflow closed before the collector's claim or outcome."""
SETTLE = timedelta(seconds=30)
"""How far past its last midnight the run ends, so the closing read sees the work the timers due
at midnight started (each day's stops fall off the grid for the same reason: stalls.off_grid)."""
PEAKS = ((time(10, 0), 85), (time(14, 0), 145), (time(19, 0), 115))
"""The stops inside each peak: start and the minutes after it a stop may fall (leaving room to
work tasks before the window closes)."""


def _withdrawn_or(key: str, answer: Any) -> str:
    """The error key of a refused claim: a task closed meanwhile counts as WITHDRAWN."""
    return WITHDRAWN if _error_code(answer) == "task_closed" else key


def _error_code(answer: Any) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return str(answer.status_code)


class Simulation:
    """One run: start the portfolio, step day by day, then close every open episode."""

    def __init__(self, stack: SimStack, scenario: Scenario, config: RunConfig) -> None:
        self.stack = stack
        self.scenario = scenario
        self.config = config
        self.api = stack.api
        self.client: Client = stack.env.client
        self.tz = scenario.timezone
        self.limit = asyncio.Semaphore(config.concurrency)
        self.strategies = {name: load_strategy(name) for name in config.strategies}
        self._stranded = StrandedWatch(STALL_SECONDS)
        self._people: dict[str, str] = {}

    # ------------------------------------------------------------------------------ utilities

    async def _bounded(self, coros: Iterable[Awaitable[T]]) -> list[T]:
        """Await the coroutines concurrently, at most `concurrency` at a time, results in order."""

        async def one(coro: Awaitable[T]) -> T:
            async with self.limit:
                return await coro

        return list(await asyncio.gather(*(one(c) for c in coros)))

    async def _each_account_in_turn(
        self, items: list[T], loan_of: Callable[[T], str], act: Callable[[T], Awaitable[None]]
    ) -> None:
        """`act` on every item: accounts concurrently, but one account's items one after another
        in the list's order. Two requests on one account interact: the first the workflow takes
        decides the second's fate (two call tasks open at one stop, a broken promise's follow-up
        beside the ladder's call: a promise while one is open is refused and becomes a callback;
        the promised amount is read from a status the first changed). Sent at once, which
        reached the workflow first was a race, and the same seed gave different runs. The loans
        of one borrower are one "account" here: they share the borrower's contact authority, and
        which loan's request reached it first decided who got the borrower's last allowed
        contact (issue 16)."""
        groups: dict[str, list[T]] = {}
        for item in items:
            groups.setdefault(self._person_of(loan_of(item)), []).append(item)

        async def in_turn(group: list[T]) -> None:
            for item in group:
                await act(item)

        await self._bounded(in_turn(group) for group in groups.values())

    def _person_of(self, loan_id: str) -> str:
        """The borrower a loan belongs to (its `borrower.id`), or the loan itself."""
        return self._people.get(loan_id, loan_id)

    async def now(self) -> datetime:
        return await self.stack.env.get_current_time()

    async def sleep_until(self, instant: datetime) -> None:
        """Skip virtual time to `instant` with the test server's sleep RPC (long deadline: a busy
        day can take longer than the client's default), guarded against a stalled clock."""
        for _ in range(10):
            now = await self.now()
            if instant <= now:
                return
            request = SleepRequest()
            request.duration.FromTimedelta(instant - now)
            sleep = asyncio.ensure_future(
                self.client.test_service.unlock_time_skipping_with_sleep(
                    request, timeout=timedelta(minutes=30)
                )
            )
            try:
                while True:
                    done, _ = await asyncio.wait([sleep], timeout=STALL_SECONDS)
                    if done:
                        sleep.result()
                        return
                    if await self._release_stalled_clock(now):
                        break
                    now = await self.now()
            except RPCError as exc:
                if "timeout" not in str(exc).lower():
                    raise
            finally:
                if not sleep.done():
                    sleep.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RPCError):
                        await sleep
        raise RuntimeError(f"the test server did not reach {instant.isoformat()}")

    async def _release_stalled_clock(self, before: datetime) -> bool:
        """The time-skipping test server can leak a time-skipping lock (seen when a restructure
        subflow completes just after its parent episode closed): the clock then stands still
        with no workflow or activity task outstanding anywhere. When the clock has not moved
        for STALL_SECONDS and a scan of every open episode, subflow and borrower finds no
        pending work (simulator.stalls.busy: a workflow task is read from the history, which
        the test server's describe never shows), release one lock and count it; with work
        pending, keep waiting: a lock released under an outstanding workflow task would let
        the clock jump while the task is with a worker."""
        if await self.now() != before:
            return False
        state = self.state
        ids = [workflow_id_for(a.loan_id) for a in state.accounts]
        for loan_id, offers in state.restructure_offers.items():
            ids += [f"restructure-{loan_id}-{n}" for n in range(1, offers + 1)]
        ids += [f"write-off-{a.loan_id}-1" for a in state.accounts if a.model == "deceased"]
        people = {a.body["borrower"].get("id") for a in state.accounts}
        ids += [borrower_workflow_id(person) for person in sorted(p for p in people if p)]

        working = [b for b in await self._bounded(busy(self.client, w, before) for w in ids) if b]
        self._stranded.check(before, working)
        if working:
            log.warning(
                "virtual clock at %s for %.0f s; still working: %s",
                before.isoformat(),
                STALL_SECONDS,
                "; ".join(working[:5]),
            )
            return False
        if await self.now() != before:
            return False
        await self.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        state.clock_releases += 1
        return False

    def local(self, day: date, at: time) -> datetime:
        return local_instant(day, at, self.tz)

    # ---------------------------------------------------------------------------------- run

    async def run(self, progress: ProgressHook | None = None) -> SimulationState:
        cfg = self.config
        began = wallclock.perf_counter()
        opening = self.local(cfg.start, time(8, 0))
        now = await self.now()
        if now > opening:
            raise ValueError(
                f"the virtual start {opening.isoformat()} is in the test server's past "
                f"({now.isoformat()}); choose a later --start"
            )
        await self.sleep_until(opening)
        await asyncio.to_thread(self._register_agencies, opening)
        accounts = portfolio(self.scenario, cfg.accounts, cfg.seed, cfg.start)
        arms: dict[str, str] = {}
        strategy_of: dict[str, str] = {}
        state = SimulationState(
            accounts=accounts,
            arms=arms,
            strategy_of=strategy_of,
            borrowers={a.loan_id: borrower_for(cfg.seed, a) for a in accounts},
            start=opening,
        )
        self.state = state
        self._people = {a.loan_id: str(a.body["borrower"].get("id") or a.loan_id) for a in accounts}
        try:
            # A borrower's loans start one after another: they join its authority in order.
            await self._each_account_in_turn(accounts, lambda a: a.loan_id, self._start)
            for day_index in range(cfg.days):
                today = cfg.start + timedelta(days=day_index)
                await self._day(today, day_index)
                if progress is not None:
                    open_count = sum(1 for r in state.rows.values() if r["state"] in OPEN_STATES)
                    progress(day_index + 1, today, open_count, wallclock.perf_counter() - began)
            state.end = self.local(cfg.start + timedelta(days=cfg.days), time(0, 0))
            await self.sleep_until(state.end + SETTLE)
            await self._observe()
            await self._status_of_unseen()
            state.wall_seconds = wallclock.perf_counter() - began
            if cfg.measure_events:
                measured = wallclock.perf_counter()
                state.events = await self.history_events()
                state.events_seconds = wallclock.perf_counter() - measured
        finally:
            await self.close_all()
        return state

    def _register_agencies(self, at: datetime) -> None:
        from store.agencies import add_agency

        with session_scope(self.stack.database_url) as session:
            for agency in self.scenario.agencies:
                add_agency(session, agency.name, agency.commission, agency.capacity, at)

    async def _start(self, account: SyntheticAccount) -> None:
        """Through `POST /v1/accounts`: the API picks the strategy (the champion, or the
        challenger for the loan ids its split assigns to it); the arm is read back from the
        strategy the account started under."""
        answer = await self.api.post("/v1/accounts", json=account.body, headers=LOAN_SYSTEM)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"start of {account.loan_id} failed: {answer.text}")
        started = answer.json().get("strategy", {}).get("name")
        if started not in self.strategies:
            raise RuntimeError(
                f"the API started {account.loan_id} under strategy {started!r}, "
                f"not one of {', '.join(self.strategies)}"
            )
        champion = self.config.strategies[0]
        self.state.strategy_of[account.loan_id] = started
        self.state.arms[account.loan_id] = "champion" if started == champion else "challenger"

    async def _status_of_unseen(self) -> None:
        """An episode writes its first snapshot at its first moment; one started but not yet
        due has none, so its state is asked of the API (the workflow's status query)."""
        state = self.state
        unseen = [a.loan_id for a in state.accounts if a.loan_id not in state.rows]

        async def ask(loan_id: str) -> None:
            answer = await self.api.get(f"/v1/accounts/{loan_id}", headers=LOAN_SYSTEM)
            if answer.status_code == 200:
                status = answer.json()
                state.rows[loan_id] = {
                    "loan_id": loan_id,
                    "state": status["state"],
                    "dpd": status["dpd"],
                    "bucket": status["bucket"],
                    "amount_overdue": Decimal(status["amount_overdue"]),
                    "balance": Decimal(status.get("balance", "0")),
                }

        await self._bounded(ask(loan_id) for loan_id in unseen)

    async def _day(self, today: date, day_index: int) -> None:
        rng = rng_for(self.config.seed, f"day:{today.isoformat()}")
        stops = [self.local(today, time(9, 0)) + off_grid(rng)]
        for start, spread in PEAKS:
            stops.append(
                self.local(today, start) + timedelta(minutes=rng.randrange(spread)) + off_grid(rng)
            )
        capacity = self._capacity()
        for n, stop in enumerate(stops):
            await self.sleep_until(stop)
            await self._observe()
            if n == 0:
                await self._borrowers_pay(today, stop)
            else:
                await self._collectors_work(today, stop, capacity)
        state = self.state
        counts: dict[str, int] = defaultdict(int)
        for row in state.rows.values():
            counts[row["state"]] += 1
        state.day_curve.append({"day": day_index + 1, "date": today.isoformat(), **counts})

    def _capacity(self) -> dict[tuple[str, str], int]:
        c = self.scenario.collectors
        capacity: dict[tuple[str, str], int] = {}
        for who in COLLECTORS:
            capacity[(who, "call")] = c.calls_per_day
            capacity[(who, "field_visit")] = c.visits_per_day
            capacity[(who, "other")] = c.other_per_day
        capacity[(SUPERVISOR, "approval")] = c.approvals_per_day
        capacity[(ANTI_FRAUD, "other")] = c.other_per_day
        capacity[(LEGAL, "approval")] = c.approvals_per_day
        return capacity

    # -------------------------------------------------------------------------- observation

    async def _observe(self) -> None:
        state = self.state
        actions, rows, state.fingerprints = await asyncio.to_thread(
            read_store, self.stack.database_url, state.actions_seen, state.fingerprints
        )
        now = await self.now()
        for row in rows:
            status = row.pop("status") or {}
            row["amount_overdue"] = Decimal(str(status.get("amount_overdue", "0")))
            row["balance"] = Decimal(str(status.get("balance", "0")))
            state.rows[row["loan_id"]] = row
            self._track_holds(row["loan_id"], status.get("holds") or [], now)
        offers: list[tuple[str, RestructureOfferDetail]] = []
        for action in actions:
            state.actions_seen = max(state.actions_seen, action["id"])
            loan_id = action["loan_id"]
            borrower = state.borrowers.get(loan_id)
            if borrower is None:
                continue
            kind = action["kind"]
            at = as_utc(action["at"])
            if kind in SENT_CONTACTS and action["status"] not in NOT_SENT:
                # The action's detail as the workflow wrote it: a ladder step names its target.
                detail = read_detail(kind, action["detail"] or {})
                state.automated.append(
                    {
                        "loan_id": loan_id,
                        "at": at,
                        "kind": kind,
                        "channel": CONTACT_CHANNEL[kind],
                        "target": detail.to if isinstance(detail, StepDetail) else None,
                        "status": action["status"],
                    }
                )
                assert at is not None
                borrower.contacted(kind, local_date(at, self.tz))
            elif kind == "restructure_offer":
                offer = read_detail(kind, action["detail"] or {})
                assert isinstance(offer, RestructureOfferDetail)
                offers.append((loan_id, offer))
        if offers:
            await self._answer_offers(offers, now)

    def _track_holds(self, loan_id: str, holds: list[dict[str, Any]], now: datetime) -> None:
        """Holds as the daily snapshots show them; one that disappears without an end is closed
        at the first snapshot without it."""
        seen = self.state.holds[loan_id]
        current = set()
        for hold in holds:
            key = (hold["kind"], hold["since"])
            current.add(key)
            until = hold.get("until")
            seen[key] = datetime.fromisoformat(until) if until else None
        for key, until in list(seen.items()):
            if key not in current and until is None:
                seen[key] = now

    async def _answer_offers(
        self, offers: list[tuple[str, RestructureOfferDetail]], now: datetime
    ) -> None:
        state = self.state
        today = local_date(now, self.tz)
        answers: list[tuple[str, RestructureOfferDetail, bool]] = []
        for loan_id, detail in offers:
            state.restructure_offers[loan_id] += 1
            answers.append((loan_id, detail, state.borrowers[loan_id].restructure_offered()))

        async def answer_offer(loan_id: str, detail: RestructureOfferDetail, accept: bool) -> None:
            answer = await self.api.post(
                f"/v1/accounts/{loan_id}/restructure",
                json={"decision": "accept" if accept else "decline"},
                headers=KEYS["alice"],
            )
            if answer.status_code != 202:
                state.errors[f"restructure:{answer.status_code}:{_error_code(answer)}"] += 1
                return
            if not accept:
                return
            amount = detail.new_instalment_amount or Decimal(0)
            count = detail.instalment_count or 0
            # The offer letter names no schedule: the plan's instalments fall due monthly.
            interval = PLAN_INTERVAL_DAYS
            first_day = today + timedelta(days=interval)
            if amount > 0 and count > 0:
                state.borrowers[loan_id].plan_instalments(first_day, amount, count, interval)

        await self._each_account_in_turn(answers, lambda a: a[0], lambda a: answer_offer(*a))

    # ------------------------------------------------------------------------------ paying

    async def _borrowers_pay(self, today: date, now: datetime) -> None:
        state = self.state
        payers = []
        for account in state.accounts:  # fixed order: the same draws every run
            loan_id = account.loan_id
            row = state.rows.get(loan_id)
            borrower = state.borrowers[loan_id]
            if row is None or row["state"] not in OPEN_STATES:
                continue
            borrower.new_day(today, delinquent=row["state"] == AccountState.DELINQUENT)
            if any(p.on <= today for p in borrower.planned):
                payers.append(account)

        async def status_of(loan_id: str) -> dict[str, Any] | None:
            answer = await self.api.get(f"/v1/accounts/{loan_id}", headers=LOAN_SYSTEM)
            if answer.status_code != 200:
                state.errors[f"status:{answer.status_code}"] += 1
                return None
            result: dict[str, Any] = answer.json()
            return result

        statuses = await self._bounded(status_of(a.loan_id) for a in payers)
        sends: list[tuple[str, Decimal]] = []
        for account, status in zip(payers, statuses, strict=True):
            if status is None or status["state"] not in OPEN_STATES:
                continue
            due = Decimal(status["amount_overdue"]) + Decimal(status["penalty_accrued"])
            if status["state"] == AccountState.PRE_DUE:
                due = Decimal(account.body["instalments"][0]["amount"])
            elif status["state"] == AccountState.RESTRUCTURED and due <= 0:
                due = Decimal(status.get("balance", "0"))
            borrower = state.borrowers[account.loan_id]
            for amount in borrower.payments_due(today, due):
                amount = min(amount, Decimal(status.get("balance", amount)) or amount)
                if amount > 0:
                    sends.append((account.loan_id, amount))

        async def pay(loan_id: str, payment_id: str, amount: Decimal) -> None:
            answer = await self.api.post(
                f"/v1/accounts/{loan_id}/payments",
                json={"payment_id": payment_id, "amount": str(amount), "paid_at": now.isoformat()},
                headers=LOAN_SYSTEM,
            )
            if answer.status_code != 202:
                state.errors[f"payment:{answer.status_code}"] += 1

        numbered = []
        for loan_id, amount in sends:  # numbered in a fixed order, then sent concurrently
            state.paid_count[loan_id] += 1
            payment_id = f"{loan_id}-pay-{state.paid_count[loan_id]}"
            state.payments.append(
                {"loan_id": loan_id, "payment_id": payment_id, "amount": amount, "at": now}
            )
            numbered.append((loan_id, payment_id, amount))
        await self._each_account_in_turn(numbered, lambda n: n[0], lambda n: pay(*n))

    # -------------------------------------------------------------------------- collectors

    async def _list_tasks(self) -> list[dict[str, Any]]:
        answer = await self.api.get("/v1/tasks", params={"limit": 500}, headers=KEYS[SUPERVISOR])
        if answer.status_code != 200:
            self.state.errors[f"tasks:{answer.status_code}"] += 1
            return []
        tasks: list[dict[str, Any]] = answer.json()
        # The API ranks by priority; ties are broken here by loan and sequence, not by task ids
        # (which carry the episode's random run id), so the same seed works the same tasks.
        tasks.sort(
            key=lambda t: (
                -Decimal(str(t.get("priority", "0"))),
                t.get("not_after") or "",
                t["loan_id"],
                t["task_id"].rsplit("-", 1)[-1].zfill(6),
            )
        )
        return tasks

    async def _collectors_work(
        self, today: date, now: datetime, capacity: dict[tuple[str, str], int]
    ) -> None:
        state = self.state
        tasks = await self._list_tasks()
        plan: list[tuple[dict[str, Any], str, CallAnswer | str]] = []
        turn = 0
        for task in tasks:
            loan_id = task["loan_id"]
            borrower = state.borrowers.get(loan_id)
            if borrower is None or task["status"] != "open":
                continue
            kind = task["kind"]
            pool = {"call": "call", "field_visit": "field_visit", "approval": "approval"}.get(
                kind, "other"
            )
            detail = task.get("detail") or {}
            if kind == "approval" and detail.get("approves") == "lawsuit_filing":
                who = LEGAL
            elif kind == "approval":
                who = SUPERVISOR
            elif kind == "verification":
                who = ANTI_FRAUD
            elif task.get("assignee") in KEYS:
                who = task["assignee"]
            else:
                barred = set(detail.get("never_to") or [])
                candidates = [c for c in COLLECTORS if c not in barred] or list(COLLECTORS)
                candidates = [c for c in candidates if capacity.get((c, pool), 0) > 0]
                if not candidates:
                    continue
                who = candidates[turn % len(candidates)]
                turn += 1
            if capacity.get((who, pool), 0) <= 0:
                continue
            capacity[(who, pool)] -= 1
            plan.append((task, who, self._decide(borrower, task, today)))
        await self._each_account_in_turn(
            plan, lambda p: p[0]["loan_id"], lambda p: self._work(*p, now)
        )

    def _decide(self, borrower: Borrower, task: dict[str, Any], today: date) -> CallAnswer | str:
        kind = task["kind"]
        detail = task.get("detail") or {}
        if kind == "call" and detail.get("to") in self.state.dead_since.get(task["loan_id"], {}):
            # The account's notes say this number is dead: the collector closes the task
            # without dialling (no contact happens), and the simulator counts the task as one
            # the workflow should not have issued.
            self.state.errors["call_task_to_a_number_reported_dead"] += 1
            return NOT_DIALLED
        if kind == "call":
            return borrower.answer_call(today, str(detail.get("purpose") or "collect"))
        if kind == "field_visit":
            return borrower.visit(today)
        if kind == "skip_trace":
            return "not_found"
        if kind == "verification":
            return "verified" if borrower.model == "deceased" else "not_verified"
        if kind == "approval":
            return "approved"
        return "not_found"

    async def _work(
        self, task: dict[str, Any], who: str, decision: CallAnswer | str, now: datetime
    ) -> None:
        state = self.state
        headers = KEYS[who]
        task_id = task["task_id"]
        loan_id = task["loan_id"]
        if task.get("assignee") != who:
            claimed = await self.api.post(f"/v1/tasks/{task_id}/claim", headers=headers)
            if claimed.status_code != 200:
                state.errors[_withdrawn_or(f"claim:{claimed.status_code}", claimed)] += 1
                return
        body: dict[str, Any]
        if isinstance(decision, str):
            body = {"outcome": decision}
        else:
            body = await self._outcome_body(loan_id, decision, now)
        answer = await self.api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=headers)
        code = _error_code(answer) if answer.status_code != 200 else ""
        if code == "task_closed":
            # Withdrawn by an earlier outcome on the account: the store heard of it just after
            # the claim instead of just before (a race), and nothing happened either way.
            state.errors[WITHDRAWN] += 1
            return
        if code == "supervisor_required":
            # Section 7: after repeated broken promises the team lead takes the promise.
            headers = KEYS[SUPERVISOR]
            answer = await self.api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=headers)
            code = _error_code(answer) if answer.status_code != 200 else ""
        if code in ("invalid_promise", "not_allowed_in_state", "supervisor_required") and body[
            "outcome"
        ] in (
            "promise_to_pay",
            "hardship",
        ):
            # A promise the policy refuses (e.g. one is still open): the call still happened;
            # the borrower asks to be called back.
            state.errors[f"{body['outcome']}:{code}"] += 1
            state.refusals.append(f"{loan_id}: {answer.text[:300]}")
            body = {"outcome": "callback_requested", "at": (now + timedelta(days=1)).isoformat()}
            answer = await self.api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=headers)
        if answer.status_code != 200:
            state.errors[f"outcome:{answer.status_code}:{_error_code(answer)}"] += 1
        detail = task.get("detail") or {}
        target = detail.get("to")
        if body["outcome"] in ("number_dead", "wrong_number") and target:
            # known dead from the end of this call on (the audit counts calls at or after it)
            state.dead_since[loan_id].setdefault(target, now + timedelta(microseconds=1))
        state.work.append(
            CallLog(
                loan_id=loan_id,
                task_id=task_id,
                kind=task["kind"],
                at=now,
                outcome=body["outcome"],
                target=target,
                purpose=str(detail.get("purpose") or "collect"),
                status=answer.status_code,
                dialled=not (task["kind"] == "call" and isinstance(decision, str)),
            )
        )

    async def _outcome_body(
        self, loan_id: str, answer: CallAnswer, now: datetime
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": answer.outcome}
        if answer.outcome == "promise_to_pay":
            status = await self.api.get(f"/v1/accounts/{loan_id}", headers=LOAN_SYSTEM)
            owed = Decimal("0")
            if status.status_code == 200:
                data = status.json()
                owed = Decimal(data["amount_overdue"]) + Decimal(data["penalty_accrued"])
                if owed <= 0:
                    owed = Decimal(data.get("balance", "0"))
            amount = (owed * answer.promise_fraction).quantize(Decimal("0.01"))
            if amount <= 0:
                return {"outcome": "paid_claimed"}
            # A promise may be dated at most the strategy's max_days_ahead away (CONTRACT.md):
            # a borrower whose payday is later promises within it (and may break it).
            strategy = self.strategies[self.state.strategy_of[loan_id]]
            days = min(answer.promise_days or 1, strategy.promises.max_days_ahead)
            body["promise"] = {
                "amount": str(amount),
                "promised_date": (local_date(now, self.tz) + timedelta(days=days)).isoformat(),
                "pay_to": "bank transfer to the loan account",
            }
            if answer.broken_promise_reason:
                body["broken_promise_reason"] = answer.broken_promise_reason
        elif answer.outcome == "hardship":
            term = answer.hardship_term or "short"
            body["hardship"] = {
                "cause": "medical bills" if term == "short" else "job lost",
                "term": term,
                # Both are willing and able on a plan (a long-term hardship borrower accepts a
                # restructure); `surmountable: false` is not offered one (playbook).
                "surmountable": True,
            }
        elif answer.outcome == "refused":
            body["reason"] = answer.reason or "other"
        reasons = self.strategies[self.state.strategy_of[loan_id]].missed_payment_reasons or []
        if answer.missed_payment_reason in {r.code for r in reasons}:
            body["missed_payment_reason"] = answer.missed_payment_reason
        return body

    async def history_events(self) -> dict[str, int]:
        """History events of each account's episode: every run of its continue-as-new chain
        (walked back through `continued_execution_run_id`) plus its subflows."""
        state = self.state
        client = self.client

        async def events_of(workflow_id: str, into: dict[str, int]) -> int:
            total = 0
            run_id: str | None = None
            for _ in range(50):
                handle = client.get_workflow_handle(workflow_id, run_id=run_id)
                try:
                    history = await handle.fetch_history()
                except RPCError:
                    return total
                total += len(history.events)
                for event in history.events:
                    if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                        into["timers"] += 1
                    elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                        into["activities"] += 1
                started = history.events[0].workflow_execution_started_event_attributes
                run_id = started.continued_execution_run_id or None
                if run_id is None:
                    break
            return total

        async def account_events(loan_id: str) -> int:
            kinds = state.event_kinds[loan_id]
            total = await events_of(workflow_id_for(loan_id), kinds)
            for n in range(1, 1 + state.restructure_offers.get(loan_id, 0)):
                total += await events_of(f"restructure-{loan_id}-{n}", kinds)
            if state.rows.get(loan_id, {}).get("state") == AccountState.WRITTEN_OFF:
                total += await events_of(f"write-off-{loan_id}-1", kinds)
            return total

        counts = await self._bounded(account_events(a.loan_id) for a in state.accounts)
        return {a.loan_id: n for a, n in zip(state.accounts, counts, strict=True)}

    # ------------------------------------------------------------------------------ closing

    async def close_all(self) -> None:
        """Terminate every workflow still running, subflows first (they signal their parent):
        a timer of an orphan would otherwise stop the test server from skipping time."""
        state = getattr(self, "state", None)
        if state is None:
            return
        client = self.client

        async def terminate(workflow_id: str) -> None:
            handle = client.get_workflow_handle(workflow_id)
            with contextlib.suppress(RPCError):
                description = await handle.describe()
                if description.status == WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("simulation finished")

        open_ids = [
            a.loan_id
            for a in state.accounts
            if state.rows.get(a.loan_id, {}).get("state") not in CLOSED_STATES
        ]
        children = [
            f"{kind}-{loan_id}-{n}"
            for loan_id in open_ids
            for kind in ("restructure", "write-off")
            for n in range(1, 1 + max(1, state.restructure_offers.get(loan_id, 0)))
        ]
        await self._bounded(terminate(w) for w in children)
        await self._bounded(terminate(workflow_id_for(w)) for w in open_ids)
