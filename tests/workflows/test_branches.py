"""The playbook's branches on the real AccountWorkflow, driven through the API the collectors
use (PLAYBOOK.md sections 6-12): no answer, skip, hardship and restructuring, refusals,
death and write-off with four eyes."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import ANTI_FRAUD, COLLECTOR, SUPERVISOR, auth
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    open_tasks,
    pay,
    sleep_until,
    start,
    status,
    work,
)

BOB = auth("demo-collector-2")


async def first_call_task(
    env: WorkflowEnvironment, api: httpx.AsyncClient, database_url: str, loan: str
) -> tuple[dict[str, Any], date]:
    """Start a plain account due in two days and move to its first call task (DPD 2, 11:00);
    the task and the due date."""
    due = await business_today(env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(env, due + timedelta(days=2), hour=11)
    [task] = open_tasks(database_url, loan)
    return task, due


def kinds_of(listed: list[dict[str, Any]]) -> list[str]:
    return [a["kind"] for a in listed]


async def test_three_unanswered_calls_bring_an_sms_and_a_letter_and_retries_move_slot_and_number(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-NOANSWER"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"]["phones"].append({"kind": "home", "number": "+862161234567"})
    body["contacts"] = [
        {"name": "Li Na", "relation": "sister", "phone": "+8613900139000", "guarantor": False}
    ]
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    targets, slots = [], []
    for attempt in range(5):
        [task] = open_tasks(database_url, loan)
        targets.append(task["detail"]["to"])
        slots.append(task["not_before"])
        # An outcome is taken once the task's window has opened (issue 17 item 5b).
        opens = task["not_before"].replace(tzinfo=UTC) + timedelta(minutes=1)
        now = await workflow_env.get_current_time()
        if opens > now:
            await workflow_env.sleep(opens - now)
        await work(api, task["task_id"], {"outcome": "no_answer"})
        await workflow_env.sleep(timedelta(minutes=1))
        if attempt == 2:
            steps = [a["detail"].get("step_id") for a in await actions(api, loan)]
            assert "branch.no_answer.sms" in steps and "branch.no_answer.letter" in steps
    # Rotation: mobile, home, mobile, ... and never the same slot twice in a row.
    assert targets[:2] == ["+8613800138000", "+862161234567"]
    assert all(a != b for a, b in zip(slots, slots[1:], strict=False))
    # After the fifth: the contact person is asked to pass a message, never told of the debt.
    persons = [
        t for t in open_tasks(database_url, loan) if t["detail"].get("to") == "+8613900139000"
    ]
    assert persons and persons[0]["detail"]["purpose"] == "message"
    assert persons[0]["detail"]["mention_debt"] is False


async def test_a_callback_request_schedules_a_call_at_exactly_that_time(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-CALLBACK"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    at = (await workflow_env.get_current_time()) + timedelta(hours=6)
    await work(api, task["task_id"], {"outcome": "callback_requested", "at": at.isoformat()})
    await workflow_env.sleep(timedelta(minutes=1))
    [callback] = open_tasks(database_url, loan)
    assert abs(callback["not_before"].replace(tzinfo=at.tzinfo) - at) < timedelta(seconds=1)


async def test_when_every_number_is_dead_the_account_is_skip_traced_visited_then_placed(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-SKIP"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    effect = await work(api, task["task_id"], {"outcome": "number_dead"})
    assert effect["outcome"]["outcome"] == "number_dead"
    await workflow_env.sleep(timedelta(minutes=1))
    [trace] = open_tasks(database_url, loan, "skip_trace")
    assert "credit-bureau report" in trace["detail"].get("sources", []) or trace["detail"]
    await sleep_until(workflow_env, due + timedelta(days=40), hour=12)
    listed = await actions(api, loan)
    assert "field_visit" in kinds_of(listed)
    assert any(
        a["kind"] == "oca_placement" and a["detail"].get("step_id") == "branch.skip_oca"
        for a in listed
    )


async def test_a_loan_never_paid_is_a_skip_from_day_one(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-NEVERPAID"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 0, "ever_paid": False}
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
    assert open_tasks(database_url, loan, "skip_trace")


async def test_short_term_hardship_grants_a_grace_hold_that_ends_by_itself(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-BR-GRACE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    answer = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "hospital", "term": "short", "surmountable": True},
        headers=COLLECTOR,
    )
    assert answer.status_code == 202, answer.text
    assert "grace" in answer.json()["effect"]
    assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["grace"]
    await sleep_until(workflow_env, due + timedelta(days=18), hour=12)
    assert (await status(api, loan))["holds"] == []


async def offer_restructuring(env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str) -> None:
    """A recurring delinquent (eligible) reports a long-term hardship at DPD 5: an offer opens.
    Before that, an answer to an offer that does not exist is 409."""
    due = await business_today(env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(env, due + timedelta(days=5), hour=12)
    none_open = await api.post(
        f"/v1/accounts/{loan}/restructure", json={"decision": "accept"}, headers=COLLECTOR
    )
    assert none_open.status_code == 409, none_open.text
    answer = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "job lost", "term": "long", "surmountable": True},
        headers=COLLECTOR,
    )
    assert "restructuring offered" in answer.json()["effect"], answer.text
    await env.sleep(timedelta(minutes=5))


async def test_long_term_hardship_when_eligible_offers_a_plan_accepted_plan_paid_closes_the_account(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-BR-RESTRUCTURE"
    await offer_restructuring(workflow_env, api, loan)
    offer = [a for a in await actions(api, loan) if a["kind"] == "restructure_offer"]
    assert len(offer) == 1 and offer[0]["detail"]["instalment_count"] == 6
    accepted = await api.post(
        f"/v1/accounts/{loan}/restructure", json={"decision": "accept"}, headers=COLLECTOR
    )
    assert accepted.status_code == 202, accepted.text
    await workflow_env.sleep(timedelta(minutes=5))
    assert (await status(api, loan))["state"] == "restructured"

    amount = Decimal(str(offer[0]["detail"]["new_instalment_amount"]))
    owed = Decimal((await status(api, loan))["balance"])
    paid_at = await workflow_env.get_current_time()
    await pay(api, loan, "plan-all", str(max(owed, amount * 6)), paid_at)
    await workflow_env.sleep(timedelta(hours=1))
    final = await status(api, loan)
    assert final["state"] == "closed", final


async def test_a_complaint_is_routed_and_holds_collection_a_grievance_reassigns_a_fraud_warns(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-REFUSED"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    await work(api, task["task_id"], {"outcome": "refused", "reason": "collector_grievance"})
    await sleep_until(workflow_env, due + timedelta(days=5), hour=20)
    [task] = open_tasks(database_url, loan)
    # Alice may no longer work this account (grievance): Bob does.
    await work(api, task["task_id"], {"outcome": "refused", "reason": "fraud_suspected"}, BOB)
    await workflow_env.sleep(timedelta(minutes=1))
    listed = await actions(api, loan)
    [reassign] = [a for a in listed if a["kind"] == "reassignment"]
    assert reassign["detail"]["never_to"] == ["alice"]
    assert "lawyer_letter" in kinds_of(listed)
    [task] = open_tasks(database_url, loan, "field_visit")
    await work(api, task["task_id"], {"outcome": "visited_not_met"}, BOB)
    await sleep_until(workflow_env, due + timedelta(days=9), hour=15)
    [task] = open_tasks(database_url, loan)
    await work(api, task["task_id"], {"outcome": "refused", "reason": "complaint"}, BOB)
    await workflow_env.sleep(timedelta(minutes=1))
    assert "complaint_routing" in kinds_of(await actions(api, loan))
    assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["complaint"]


async def test_a_reported_death_is_verified_offered_to_heirs_and_written_off_by_another_person(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-BR-DEATH"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    await work(api, task["task_id"], {"outcome": "deceased_reported"})
    await workflow_env.sleep(timedelta(minutes=5))
    [verify] = open_tasks(database_url, loan, "verification")
    await work(api, verify["task_id"], {"outcome": "verified"}, who=ANTI_FRAUD)  # erin
    await workflow_env.sleep(timedelta(minutes=5))
    assert "settlement_offer" in kinds_of(await actions(api, loan))
    [approval] = open_tasks(database_url, loan, "approval")
    assert approval["detail"]["requested_by"] == "erin"
    same = await api.post(
        f"/v1/tasks/{approval['task_id']}/outcome", json={"outcome": "approved"}, headers=ANTI_FRAUD
    )
    assert same.status_code == 403, same.text
    # Verifying is the anti-fraud team's (PLAYBOOK.md section 8), never a collector's.
    listed = await api.get("/v1/tasks", params={"kind": "verification"}, headers=COLLECTOR)
    assert listed.status_code == 403, listed.text
    await work(api, approval["task_id"], {"outcome": "approved"}, who=SUPERVISOR)  # carol
    await workflow_env.sleep(timedelta(minutes=5))
    assert (await status(api, loan))["state"] == "written_off"


async def test_the_parent_does_not_continue_as_new_while_a_subflow_runs_and_the_child_lives_on(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-BR-CAN"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=27), hour=12)
    await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "job lost", "term": "long", "surmountable": True},
        headers=COLLECTOR,
    )
    await workflow_env.sleep(timedelta(minutes=5))
    parent = workflow_env.client.get_workflow_handle(f"account-{loan}")
    run_before = (await parent.describe()).run_id
    # DPD 30 is a stage boundary (front end → mid range) while the offer is open.
    await sleep_until(workflow_env, due + timedelta(days=31), hour=12)
    assert (await parent.describe()).run_id == run_before
    child = workflow_env.client.get_workflow_handle(f"restructure-{loan}-1")
    assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
    declined = await api.post(
        f"/v1/accounts/{loan}/restructure", json={"decision": "decline"}, headers=BOB
    )
    assert declined.status_code == 202, declined.text
    await sleep_until(workflow_env, due + timedelta(days=91), hour=12)
    assert (await parent.describe()).run_id != run_before
    assert (await status(api, loan))["stage"] == "hard_core"


async def test_an_account_cured_while_an_offer_is_open_ends_after_its_cancelled_subflow(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    from temporalio.api.enums.v1 import EventType

    loan = "L-BR-CURED-OFFER"
    await offer_restructuring(workflow_env, api, loan)
    owed = Decimal((await status(api, loan))["balance"])
    await pay(api, loan, "all-of-it", str(owed), await workflow_env.get_current_time())
    parent = workflow_env.client.get_workflow_handle(f"account-{loan}")
    assert (await parent.result())["state"] == "cured"
    child = workflow_env.client.get_workflow_handle(f"restructure-{loan}-1")
    assert (await child.describe()).status != WorkflowExecutionStatus.RUNNING
    events = [e.event_type for e in (await parent.fetch_history()).events]
    child_closed = [
        i
        for i, kind in enumerate(events)
        if kind
        in (
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        )
    ]
    assert child_closed and child_closed[-1] < len(events) - 1
    # The server's clock still moves (a parent that completed first could stop it).
    before = await workflow_env.get_current_time()
    await workflow_env.sleep(timedelta(days=1))
    assert await workflow_env.get_current_time() >= before + timedelta(days=1)
