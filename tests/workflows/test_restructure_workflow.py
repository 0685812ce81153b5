"""DebtRestructureWorkflow on the time-skipping server (PLAYBOOK.md sections 2 and 9, issue 5):
the offer, the borrower's answer, the plan's own timers and the events the parent receives.

The parent is a recorder registered under a test-only name: it keeps every `subflow_event` the
child signals, so these tests prove the child's protocol whatever the AccountWorkflow does with
it today. A worker polls both, on the test's own task queue (a started workflow that never
completes a task would stop time skipping for the rest of the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.account import PaymentIn
from domain.calendar import local_date, local_instant, start_of_local_day
from domain.policies import RestructurePolicy
from tests.workflows.parent_recorder import ParentRecorder
from worker.main import workflow_runner
from workflows.contracts import RestructureAnswer, RestructureInput, SubflowEvent
from workflows.restructure import DebtRestructureWorkflow, RestructureStatus

TZ = "Asia/Shanghai"
D = Decimal
# Three monthly instalments of 1175.00 after waiving the whole 300.00 penalty of 3825.00.
POLICY = RestructurePolicy(instalments=3, interval_days=30, offer_valid_days=7)
BALANCE = D("3825.00")
PENALTY = D("300.00")
INSTALMENT = D("1175.00")


@dataclass
class Plan:
    """One started child and its recorder parent, on the test's worker."""

    env: WorkflowEnvironment
    parent: WorkflowHandle[Any, Any]
    child: WorkflowHandle[Any, str]
    today: date
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def events(self) -> list[SubflowEvent]:
        found: list[SubflowEvent] = await self.parent.query(ParentRecorder.events)
        return found

    async def kinds(self) -> list[str]:
        return [e.kind for e in await self.events()]

    async def status(self) -> RestructureStatus:
        return await self.child.query(DebtRestructureWorkflow.status)

    async def answer(self, decision: str) -> None:
        await self.child.signal(
            DebtRestructureWorkflow.answer,
            RestructureAnswer.model_validate(
                {"decision": decision, "recorded_by": "collector-7", "at": await self.now()}
            ),
        )

    async def pay(self, payment_id: str, amount: Decimal) -> None:
        payment = PaymentIn(payment_id=payment_id, amount=amount, paid_at=await self.now())
        await self.child.signal(DebtRestructureWorkflow.payment, payment)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep_until(self, instant: datetime) -> None:
        now = await self.now()
        assert instant > now, f"{instant} is not after {now}"
        await self.env.sleep(instant - now)

    async def until_local(self, day: date, hour: int, minute: int = 0) -> None:
        await self.sleep_until(local_instant(day, time(hour, minute), TZ))

    async def settled(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Signals are handled asynchronously: wait (in real time) until a check holds."""
        for _ in range(200):
            if await check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the workflow did not get there")

    async def running(self) -> bool:
        return (await self.child.describe()).status == WorkflowExecutionStatus.RUNNING


Start = Callable[..., Awaitable[Plan]]


@pytest.fixture
async def start_plan(workflow_env: WorkflowEnvironment) -> AsyncIterator[Start]:
    """Starts a recorder parent and the real child at local noon of a fresh day; terminates
    whatever is still running after the test."""
    queue = f"restructure-{uuid.uuid4().hex[:8]}"
    started: list[WorkflowHandle[Any, Any]] = []

    async def start(
        *,
        balance: Decimal = BALANCE,
        penalty: Decimal = PENALTY,
        policy: RestructurePolicy = POLICY,
        parent_id: str | None = None,
    ) -> Plan:
        now = await workflow_env.get_current_time()
        today = local_date(now, TZ) + timedelta(days=1)
        noon = local_instant(today, time(12), TZ)
        await workflow_env.sleep(noon - now)
        loan = f"L-RS-{uuid.uuid4().hex[:8]}"
        parent: WorkflowHandle[Any, Any]
        if parent_id is None:
            parent = await workflow_env.client.start_workflow(
                ParentRecorder.run, id=f"account-{loan}", task_queue=queue
            )
            started.append(parent)
        else:
            parent = workflow_env.client.get_workflow_handle(parent_id)
        child = await workflow_env.client.start_workflow(
            DebtRestructureWorkflow.run,
            RestructureInput(
                loan_id=loan,
                account_workflow_id=parent.id,
                episode=f"episode-{loan}",
                currency="CNY",
                timezone=TZ,
                balance=balance,
                penalty_accrued=penalty,
                offered_at=noon,
                policy=policy,
            ),
            id=f"restructure-{loan}-1",
            task_queue=queue,
        )
        started.append(child)
        plan = Plan(workflow_env, parent, child, today, started)
        if parent_id is None:
            await plan.settled(lambda: _has(plan, "restructure_offered"))
        return plan

    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[ParentRecorder, DebtRestructureWorkflow],
        workflow_runner=workflow_runner(),
    ):
        yield start
        for handle in started:
            with contextlib.suppress(RPCError):
                if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test finished")


def _near(actual: datetime, expected: datetime) -> bool:
    """Virtual time also runs on by real milliseconds between the test's steps; a minute is far
    below the day-sized boundaries these tests check."""
    return expected <= actual < expected + timedelta(minutes=1)


async def _has(plan: Plan, kind: str) -> bool:
    return kind in await plan.kinds()


def _due(plan: Plan, seq: int) -> date:
    return plan.today + timedelta(days=POLICY.interval_days * seq)


def _breaks_at(plan: Plan, seq: int) -> datetime:
    """The end of the last day of grace: due date + missed_days_to_break, borrower-local."""
    return start_of_local_day(_due(plan, seq) + timedelta(days=POLICY.missed_days_to_break + 1), TZ)


# --------------------------------------------------------------------------- the offer


async def test_the_offer_is_sent_to_the_parent_with_the_strategys_amounts_and_dates(
    start_plan: Start,
) -> None:
    plan = await start_plan()
    [offered] = await plan.events()
    assert offered.subflow == "restructure"
    assert offered.kind == "restructure_offered"
    assert offered.child_id == plan.child.id
    assert _near(offered.at, local_instant(plan.today, time(12), TZ))
    detail = offered.detail.stored()
    assert detail["waiver"] == "300.00"
    assert detail["total"] == "3525.00"
    assert detail["instalment_amount"] == "1175.00"
    assert detail["instalment_count"] == 3
    assert detail["expires_on"] == (plan.today + timedelta(days=7)).isoformat()
    assert detail["instalments"] == [
        {"seq": n, "due_date": _due(plan, n).isoformat(), "amount": "1175.00"} for n in (1, 2, 3)
    ]
    status = await plan.status()
    assert status.state == "offered"
    assert status.accepted is False
    assert status.offer is not None and status.offer.total == D("3525.00")
    assert status.offer_expires_at == start_of_local_day(plan.today + timedelta(days=8), TZ)


async def test_rounding_in_the_offer_goes_to_the_last_plan_instalment(start_plan: Start) -> None:
    plan = await start_plan(balance=D("1000.04"), penalty=D("0.00"))
    [offered] = await plan.events()
    amounts = [i["amount"] for i in offered.detail.stored()["instalments"]]
    assert amounts == ["333.34", "333.34", "333.36"]
    assert offered.detail.stored()["instalment_amount"] == "333.34"
    plan = await start_plan(balance=D("1000.00"), penalty=D("0.00"))
    [offered] = await plan.events()
    assert [i["amount"] for i in offered.detail.stored()["instalments"]] == [
        "333.33",
        "333.33",
        "333.34",
    ]


# --------------------------------------------------------------------------- the answer


async def test_a_declined_offer_ends_declined(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.until_local(plan.today + timedelta(days=2), 10)
    await plan.answer("decline")
    assert await plan.child.result() == "declined"
    events = await plan.events()
    assert [e.kind for e in events] == ["restructure_offered", "restructure_declined"]
    assert _near(events[1].at, local_instant(plan.today + timedelta(days=2), time(10), TZ))
    assert (await plan.status()).state == "declined"


async def test_an_unanswered_offer_expires_at_the_end_of_its_last_day_not_before(
    start_plan: Start,
) -> None:
    plan = await start_plan()
    expires_on = plan.today + timedelta(days=POLICY.offer_valid_days)
    await plan.until_local(expires_on, 23, 59)
    assert await plan.running()
    assert await plan.kinds() == ["restructure_offered"]
    assert (await plan.status()).state == "offered"

    assert await plan.child.result() == "expired"
    events = await plan.events()
    assert [e.kind for e in events] == ["restructure_offered", "restructure_expired"]
    assert _near(events[1].at, start_of_local_day(expires_on + timedelta(days=1), TZ))


async def test_an_answer_on_the_last_minute_of_the_offer_still_counts(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.until_local(plan.today + timedelta(days=POLICY.offer_valid_days), 23, 59)
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    status = await plan.status()
    assert status.state == "accepted" and status.accepted


# --------------------------------------------------------------------------- the plan


async def test_accepted_plan_paid_on_time_completes_at_the_last_payment(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    [_, accepted] = await plan.events()
    assert accepted.detail.stored()["total"] == "3525.00"
    assert accepted.detail.stored()["recorded_by"] == "collector-7"
    # A later contradicting answer does not undo the acceptance.
    await plan.answer("decline")

    status = await plan.status()
    assert status.next_due is not None
    assert (status.next_due.seq, status.next_due.owed) == (1, INSTALMENT)
    assert status.next_due.breaks_at == _breaks_at(plan, 1)

    for seq in (1, 2, 3):
        await plan.until_local(_due(plan, seq), 9)
        assert await plan.running(), f"the plan ended before instalment {seq} was paid"
        await plan.pay(f"plan-{seq}", INSTALMENT)
        await plan.settled(functools.partial(_paid, plan, INSTALMENT * seq))
    last_paid_at = local_instant(_due(plan, 3), time(9), TZ)

    assert await plan.child.result() == "completed"
    events = await plan.events()
    assert [e.kind for e in events] == [
        "restructure_offered",
        "restructure_accepted",
        "restructure_completed",
    ]
    assert _near(events[-1].at, last_paid_at)  # at once, not at a later timer
    # Cheap: one timer for the offer, then one per plan instalment it waited on; no daily tick.
    assert await _events_of(plan.child, EventType.EVENT_TYPE_TIMER_STARTED) == 4
    final = await plan.status()
    assert final.state == "completed"
    assert final.paid_toward_plan == D("3525.00")
    assert final.remaining == 0
    assert final.next_due is None


async def _events_of(handle: WorkflowHandle[Any, Any], kind: EventType.ValueType) -> int:
    return len([e async for e in handle.fetch_history_events() if e.event_type == kind])


async def _paid(plan: Plan, amount: Decimal) -> bool:
    return (await plan.status()).paid_toward_plan == amount


async def test_a_plan_instalment_paid_late_within_grace_keeps_the_plan(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    last_day = _due(plan, 1) + timedelta(days=POLICY.missed_days_to_break)
    await plan.until_local(last_day, 23, 30)
    await plan.pay("late-but-in-grace", INSTALMENT)
    await plan.settled(lambda: _paid(plan, INSTALMENT))
    await plan.sleep_until(_breaks_at(plan, 1) + timedelta(days=1))
    assert await plan.running()
    assert "restructure_broken" not in await plan.kinds()
    status = await plan.status()
    assert status.next_due is not None and status.next_due.seq == 2


async def test_a_plan_instalment_unpaid_missed_days_after_due_breaks_the_plan_not_a_day_earlier(
    start_plan: Start,
) -> None:
    plan = await start_plan()
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    await plan.until_local(_due(plan, 1) + timedelta(days=3), 11)
    await plan.pay("part", D("500.00"))
    await plan.settled(lambda: _paid(plan, D("500.00")))

    # The last minute of the last day of grace: still a plan.
    last_day = _due(plan, 1) + timedelta(days=POLICY.missed_days_to_break)
    await plan.until_local(last_day, 23, 59)
    assert await plan.running()
    assert "restructure_broken" not in await plan.kinds()
    assert (await plan.status()).state == "accepted"

    assert await plan.child.result() == "broken"
    events = await plan.events()
    assert [e.kind for e in events] == [
        "restructure_offered",
        "restructure_accepted",
        "restructure_broken",
    ]
    broken = events[-1]
    assert _near(broken.at, _breaks_at(plan, 1))
    assert broken.detail.stored() == {
        "instalment": 1,
        "due_date": _due(plan, 1).isoformat(),
        "days_late": POLICY.missed_days_to_break,
        "paid": "500.00",
        "owed": "675.00",
        "paid_toward_plan": "500.00",
    }


async def test_a_repeated_payment_id_counts_once(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    for _ in range(3):
        await plan.pay("same-id", INSTALMENT)
    await plan.pay("other-id", D("100.00"))
    await plan.settled(lambda: _paid(plan, INSTALMENT + D("100.00")))
    status = await plan.status()
    assert status.payments_counted == 2
    assert status.next_due is not None
    assert (status.next_due.seq, status.next_due.owed) == (2, D("1075.00"))

    # Resending every instalment's worth under one id never completes the plan.
    await plan.pay("same-id", D("3525.00"))
    await plan.until_local(_due(plan, 2), 9)
    assert (await plan.status()).paid_toward_plan == INSTALMENT + D("100.00")
    assert "restructure_completed" not in await plan.kinds()


async def test_payments_made_while_the_offer_is_open_count_toward_the_plan(
    start_plan: Start,
) -> None:
    plan = await start_plan()
    await plan.pay("before-answer", INSTALMENT)
    await plan.until_local(plan.today + timedelta(days=1), 10)
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    status = await plan.status()
    assert status.paid_toward_plan == INSTALMENT
    assert status.next_due is not None and status.next_due.seq == 2


# --------------------------------------------------------------------------- cancel


async def test_a_cancelled_plan_ends_cancelled_without_further_events(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.answer("accept")
    await plan.settled(lambda: _has(plan, "restructure_accepted"))
    await plan.until_local(_due(plan, 1) + timedelta(days=2), 10)
    await plan.child.signal(DebtRestructureWorkflow.cancel, "bankruptcy")
    assert await plan.child.result() == "cancelled"
    assert await plan.kinds() == ["restructure_offered", "restructure_accepted"]
    status = await plan.status()
    assert status.state == "cancelled"
    assert status.cancel_reason == "bankruptcy"


async def test_an_open_offer_can_be_cancelled_too(start_plan: Start) -> None:
    plan = await start_plan()
    await plan.child.signal("cancel")  # as the AccountWorkflow sends it: no reason
    assert await plan.child.result() == "cancelled"
    assert await plan.kinds() == ["restructure_offered"]
    assert (await plan.status()).cancel_reason == "cancelled by the account"


# --------------------------------------------------------------------------- the parent


async def test_a_parent_that_is_gone_does_not_fail_the_subflow(start_plan: Start) -> None:
    plan = await start_plan(parent_id=f"account-gone-{uuid.uuid4().hex[:8]}")
    await plan.answer("decline")
    assert await plan.child.result() == "declined"
    # The offer and the decline were both tried and neither could be delivered.
    failed = EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED
    assert await _events_of(plan.child, failed) == 2
