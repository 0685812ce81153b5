"""WriteOffWorkflow on the time-skipping server (PLAYBOOK.md section 8: bankruptcy or death).

A recorder stands in for the AccountWorkflow: it keeps every `subflow_event` the child sends,
and the test answers the child's tasks with `task_outcome` signals exactly as the parent
forwards a person's outcome. The same worker polls the recorder, the child and the activities,
so every workflow started here completes workflow tasks (an unpolled one would freeze time
skipping for the rest of the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from activities.loan_system import LoanSystemActivities
from core.settings import Settings
from domain.calendar import local_date
from domain.policies import WriteOffPolicy
from domain.strategy import load_strategy
from store.engine import session_scope
from store.events import EventRow
from tests.workflows.parent_recorder import ParentRecorder
from worker.main import workflow_runner
from workflows.contracts import ChildTaskOutcome, SubflowEvent, WriteOffInput, workflow_id_for
from workflows.write_off import WriteOffWorkflow
from workflows.write_off_messages import WriteOffPosting, WriteOffStatus

TZ = "Asia/Shanghai"
DEATH_DOCUMENTS = {
    "death_certificate",
    "cremation_certificate",
    "household_registration_cancellation",
    "court_judgment",
}
BANKRUPTCY_DOCUMENTS = {"bankruptcy_certificate", "court_judgment"}


@dataclass
class Rig:
    env: WorkflowEnvironment
    settings: Settings
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(
        self,
        reason: str,
        balance: str = "12345.67",
        policy: WriteOffPolicy | None = None,
    ) -> tuple[WorkflowHandle[Any, Any], WorkflowHandle[Any, Any], WriteOffInput]:
        loan_id = f"L-WO-{uuid.uuid4().hex[:10]}"
        parent = await self.env.client.start_workflow(
            ParentRecorder.run, id=workflow_id_for(loan_id), task_queue=self.settings.task_queue
        )
        self.started.append(parent)
        input = WriteOffInput(
            loan_id=loan_id,
            account_workflow_id=parent.id,
            episode=f"episode-{loan_id}",
            currency="CNY",
            timezone=TZ,
            reason=reason,
            reported_by="carol",
            balance=Decimal(balance),
            started_at=await self.env.get_current_time(),
            policy=policy or load_strategy("default").branches.write_off,
        )
        child = await self.env.client.start_workflow(
            WriteOffWorkflow.run,
            input,
            id=f"write-off-{loan_id}-1",
            task_queue=self.settings.task_queue,
        )
        self.started.append(child)
        return child, parent, input

    async def events(
        self, parent: WorkflowHandle[Any, Any], count: int, timeout: float = 15
    ) -> list[SubflowEvent]:
        """Poll the recorder until it holds `count` events (signals arrive asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            events: list[SubflowEvent] = await parent.query(ParentRecorder.events)
            if len(events) >= count:
                return events
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} events, got {events}")
            await asyncio.sleep(0.05)

    async def answer(
        self, child: WorkflowHandle[Any, Any], task_key: str, outcome: str, by: str
    ) -> ChildTaskOutcome:
        """What the parent forwards when a person records an outcome on the child's task."""
        sent = ChildTaskOutcome(
            task_key=task_key,
            task_id=f"task-{task_key}",
            outcome=outcome,
            recorded_by=by,
            at=await self.env.get_current_time(),
        )
        await child.signal(WriteOffWorkflow.task_outcome, sent)
        return sent

    async def status_until(
        self, child: WorkflowHandle[Any, Any], check: Callable[[WriteOffStatus], bool]
    ) -> WriteOffStatus:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            status: WriteOffStatus = await child.query(WriteOffWorkflow.status)
            if check(status):
                return status
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"status never matched: {status}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def rig(workflow_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Rig]:
    held = Rig(workflow_env, settings)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            workflow_env.client,
            task_queue=settings.task_queue,
            workflows=[ParentRecorder, WriteOffWorkflow],
            activities=build_activities(settings),
            workflow_runner=workflow_runner(),
            activity_executor=executor,
        ):
            try:
                yield held
            finally:
                for handle in held.started:
                    with contextlib.suppress(RPCError):
                        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                            await handle.terminate("test finished")


def write_off_events(database_url: str, loan_id: str) -> list[EventRow]:
    """The `write_off.approved` events of the loan: what the loan system hears of a write-off
    (the old loan_system_outbox is folded into the event log, issue 16)."""
    with session_scope(database_url) as session:
        return list(
            session.exec(
                select(EventRow).where(
                    EventRow.loan_id == loan_id, EventRow.type == "write_off.approved"
                )
            ).all()
        )


def documents(event: SubflowEvent) -> tuple[set[str], set[str]]:
    """(every document on the checklist, the required ones)."""
    checklist = event.detail.stored()["checklist"]
    return (
        {item["document"] for item in checklist},
        {item["document"] for item in checklist if item["required"]},
    )


def kinds(events: list[SubflowEvent]) -> list[str]:
    return [e.kind for e in events]


async def test_death_is_verified_offered_to_the_family_approved_by_another_person_and_posted_once(
    rig: Rig, database_url: str
) -> None:
    policy = WriteOffPolicy(related_party_max_discount_pct=Decimal("0.35"))
    child, parent, input = await rig.start("deceased", balance="12345.67", policy=policy)

    [ask] = await rig.events(parent, 1)
    assert ask.kind == "task_needed" and ask.subflow == "write_off" and ask.child_id == child.id
    assert (
        ask.detail.stored()["task_kind"] == "verification"
        and ask.detail.stored()["task_key"] == "verify-1"
    )
    every, required = documents(ask)
    assert every == DEATH_DOCUMENTS
    assert required == DEATH_DOCUMENTS - {"court_judgment"}
    # PLAYBOOK.md section 8: the anti-fraud team meets the related party, checks the original
    # documents, visits on site and assembles the file.
    checks = ask.detail.stored()["checks"]
    assert "meet the related party and check the original documents" in checks
    assert "visit on site" in checks and "assemble the full file for the write-off" in checks

    # An outcome that does not fit the task is kept out, and the child keeps waiting.
    await rig.answer(child, "verify-1", "approved", "vera")
    await rig.status_until(child, lambda s: any("not an outcome" in i for i in s.ignored))
    verified = await rig.answer(child, "verify-1", "verified", "vera")

    events = await rig.events(parent, 3)
    offer, approval = events[1], events[2]
    assert offer.kind == "settlement_offered"
    # 12345.67 × (1 − 0.35) = 8024.6855, rounded half up to the fen.
    assert offer.detail.stored()["amount"] == "8024.69"
    assert offer.detail.stored()["discount_pct"] == "0.35"
    assert (
        offer.detail.stored()["expires_on"]
        == (local_date(offer.at, TZ) + timedelta(days=30)).isoformat()
    )
    assert approval.kind == "task_needed"
    assert (
        approval.detail.stored()["task_kind"] == "approval"
        and approval.detail.stored()["task_key"] == "approve-1"
    )
    assert approval.detail.stored()["requested_by"] == "vera"
    assert approval.detail.stored()["amount"] == "12345.67"

    # Four eyes, in the workflow too: the verifier's own approval does not count.
    await rig.answer(child, "approve-1", "approved", "vera")
    status = await rig.status_until(child, lambda s: any("who verified" in i for i in s.ignored))
    assert status.stage == "approving" and status.approved_by is None
    approved = await rig.answer(child, "approve-1", "approved", "sam")

    assert await child.result() == "written_off"
    events = await rig.events(parent, 4)
    assert kinds(events) == ["task_needed", "settlement_offered", "task_needed", "written_off"]
    done = events[3].detail.stored()
    assert done["amount"] == "12345.67" and done["approved_by"] == "sam"

    status = await child.query(WriteOffWorkflow.status)
    assert status.result == "written_off" and status.stage == "done"
    assert status.verified_by == "vera" and status.approved_by == "sam"
    assert [o.task_key for o in status.outcomes] == ["verify-1", "approve-1"]
    assert done["posted_ref"] == status.posted_ref

    [row] = write_off_events(database_url, input.loan_id)
    assert row.key == f"{input.loan_id}:write_off:{child.id}"
    assert row.delivered_at is None
    assert f"EVT-{row.id:08d}" == status.posted_ref
    assert row.data == {
        "amount": "12345.67",
        "currency": "CNY",
        "reason": "deceased",
        "approved_by": "sam",
        "verified_by": verified.recorded_by,
        "episode": input.episode,
        "at": approved.at.isoformat(),
    }

    # The activity retried (a lost completion) returns the same reference and adds nothing.
    again = WriteOffPosting(
        loan_id=input.loan_id,
        workflow_id=child.id,
        episode=input.episode,
        amount=input.balance,
        currency="CNY",
        reason="deceased",
        verified_by="vera",
        approved_by="sam",
        at=approved.at,
    )
    activities = LoanSystemActivities(database_url)
    assert activities.post_write_off(again) == status.posted_ref
    assert activities.post_write_off(again) == status.posted_ref
    assert len(write_off_events(database_url, input.loan_id)) == 1


async def test_bankruptcy_asks_for_the_court_papers_and_makes_no_settlement_offer(
    rig: Rig, database_url: str
) -> None:
    child, parent, input = await rig.start("bankruptcy")
    [ask] = await rig.events(parent, 1)
    assert documents(ask) == (BANKRUPTCY_DOCUMENTS, BANKRUPTCY_DOCUMENTS)
    assert ask.detail.stored()["reason"] == "bankruptcy"

    await rig.answer(child, "verify-1", "verified", "vera")
    events = await rig.events(parent, 2)
    assert events[1].kind == "task_needed" and events[1].detail.stored()["task_kind"] == "approval"
    await rig.answer(child, "approve-1", "approved", "sam")

    assert await child.result() == "written_off"
    events = await rig.events(parent, 3)
    assert kinds(events) == ["task_needed", "task_needed", "written_off"]
    status = await child.query(WriteOffWorkflow.status)
    assert status.settlement is None
    [row] = write_off_events(database_url, input.loan_id)
    assert row.data["reason"] == "bankruptcy"


async def test_not_verified_sends_the_account_back_to_collection(
    rig: Rig, database_url: str
) -> None:
    child, parent, input = await rig.start("deceased")
    await rig.events(parent, 1)
    await rig.answer(child, "verify-1", "not_verified", "vera")

    assert await child.result() == "not_verified"
    events = await rig.events(parent, 2)
    assert kinds(events) == ["task_needed", "write_off_not_verified"]
    assert events[1].detail.stored()["reason"] == "not verified"
    assert events[1].detail.stored()["recorded_by"] == "vera"
    assert write_off_events(database_url, input.loan_id) == []


async def test_a_rejected_approval_ends_without_a_posting(rig: Rig, database_url: str) -> None:
    child, parent, input = await rig.start("deceased")
    await rig.events(parent, 1)
    await rig.answer(child, "verify-1", "verified", "vera")
    await rig.events(parent, 3)
    await rig.answer(child, "approve-1", "rejected", "sam")

    assert await child.result() == "rejected"
    events = await rig.events(parent, 4)
    assert kinds(events) == [
        "task_needed",
        "settlement_offered",
        "task_needed",
        "write_off_rejected",
    ]
    assert (
        events[3].detail.stored()["reason"] == "rejected"
        and events[3].detail.stored()["recorded_by"] == "sam"
    )
    assert write_off_events(database_url, input.loan_id) == []


async def test_an_unanswered_verification_is_reminded_twice_then_not_verified(
    rig: Rig, database_url: str
) -> None:
    policy = WriteOffPolicy(verification_days=10)
    child, parent, input = await rig.start("bankruptcy", policy=policy)
    await rig.events(parent, 1)

    # Nobody answers: the time-skipping server jumps over each 10-day wait.
    assert await child.result() == "not_verified"
    events = await rig.events(parent, 4)
    assert kinds(events) == ["task_needed"] * 3 + ["write_off_not_verified"]
    asks = events[:3]
    assert [e.detail.stored()["task_key"] for e in asks] == ["verify-1", "verify-2", "verify-3"]
    assert [e.detail.stored().get("reminder_of") for e in asks] == [None, "verify-1", "verify-1"]
    for earlier, later in zip(events, events[1:], strict=False):
        assert timedelta(days=10) <= later.at - earlier.at < timedelta(days=10, minutes=1)
    assert events[3].detail.stored()["reason"] == "verification timed out"
    assert write_off_events(database_url, input.loan_id) == []


async def test_an_unanswered_approval_is_reminded_once_then_rejected(
    rig: Rig, database_url: str
) -> None:
    policy = WriteOffPolicy(approval_days=5)
    child, parent, input = await rig.start("bankruptcy", policy=policy)
    await rig.events(parent, 1)
    await rig.answer(child, "verify-1", "verified", "vera")
    await rig.events(parent, 2)

    assert await child.result() == "rejected"
    events = await rig.events(parent, 4)
    assert kinds(events) == ["task_needed"] * 3 + ["write_off_rejected"]
    assert [e.detail.stored()["task_key"] for e in events[1:3]] == ["approve-1", "approve-2"]
    assert events[2].detail.stored()["reminder_of"] == "approve-1"
    assert events[2].detail.stored()["requested_by"] == "vera"
    assert timedelta(days=5) <= events[2].at - events[1].at < timedelta(days=5, minutes=1)
    assert events[3].detail.stored()["reason"] == "approval timed out"
    assert write_off_events(database_url, input.loan_id) == []


async def test_a_late_answer_to_the_first_verification_task_still_counts(
    rig: Rig, workflow_env: WorkflowEnvironment
) -> None:
    policy = WriteOffPolicy(verification_days=10)
    child, parent, _ = await rig.start("bankruptcy", policy=policy)
    await rig.events(parent, 1)
    await workflow_env.sleep(timedelta(days=10, hours=1))
    events = await rig.events(parent, 2)
    assert events[1].detail.stored()["task_key"] == "verify-2"

    await rig.answer(child, "verify-1", "verified", "vera")
    events = await rig.events(parent, 3)
    assert events[2].detail.stored()["task_kind"] == "approval"
    assert events[2].detail.stored()["requested_by"] == "vera"

    # The parent's account was cured meanwhile: the child stops and says nothing more.
    await child.signal(WriteOffWorkflow.cancel, "cured")
    assert await child.result() == "cancelled"
    assert len(await rig.events(parent, 3)) == 3


async def test_cancel_while_verifying_ends_the_child_without_events(
    rig: Rig, database_url: str
) -> None:
    child, parent, input = await rig.start("deceased")
    await rig.events(parent, 1)
    await child.signal(WriteOffWorkflow.cancel, "paid in full")

    assert await child.result() == "cancelled"
    assert kinds(await rig.events(parent, 1)) == ["task_needed"]
    status = await child.query(WriteOffWorkflow.status)
    assert status.result == "cancelled" and status.settlement is None
    assert write_off_events(database_url, input.loan_id) == []


def test_the_worker_registers_the_workflow_and_the_posting_activity(settings: Settings) -> None:
    from workflows import WORKFLOWS

    assert WriteOffWorkflow in WORKFLOWS
    names = {getattr(a, "__name__", "") for a in build_activities(settings)}
    assert "post_write_off" in names
