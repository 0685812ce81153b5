"""Disputes and complaints as cases (issue 17 item 7; PLAYBOOK.md section 10) through the API on
the time-skipping server: a case opens with its hold, takes evidence, is worked by supervisors
(collectors get 403), and is resolved — upheld with an adjustment off the balance to the cent,
or rejected with collection resuming — or escalated at its deadline. Plus the store's case
tables against their migration."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from store.engine import get_engine
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    open_tasks,
    sleep_until,
    start,
    status,
)


async def _open(
    api: httpx.AsyncClient, loan: str, kind: str, reason: str = "the borrower disputes the fee"
) -> dict[str, Any]:
    answer = await api.post(
        f"/v1/accounts/{loan}/{kind}s", json={"reason": reason}, headers=COLLECTOR
    )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    assert body["hold"]["kind"] == kind and body["case"]["case_id"]
    return body


async def _case(api: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/cases/{case_id}", headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    case: dict[str, Any] = answer.json()
    return case


async def _events(api: httpx.AsyncClient, loan: str) -> list[dict[str, Any]]:
    answer = await api.get("/v1/events", params={"limit": 500}, headers=LOAN_SYSTEM)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["items"] if e["loan_id"] == loan]


async def test_a_dispute_upheld_takes_the_adjustment_off_the_balance_to_the_cent(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-CASE-UPHELD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=5), hour=10)
    opened = await _open(api, loan, "dispute")
    case_id = opened["case"]["case_id"]
    await workflow_env.sleep(timedelta(minutes=1))  # the moment that records the case lands
    assert datetime.fromisoformat(opened["case"]["deadline"]) == datetime.fromisoformat(
        opened["hold"]["since"]
    ) + timedelta(days=30)  # default@2: cases.dispute_response_days

    # The supervisors' queue; collectors and the loan system may not work cases.
    for who in (COLLECTOR, LOAN_SYSTEM):
        assert (await api.get("/v1/cases", headers=who)).status_code == 403
    queue = await api.get("/v1/cases", params={"status": "open"}, headers=SUPERVISOR)
    assert queue.status_code == 200
    [listed] = [c for c in queue.json() if c["loan_id"] == loan]
    assert listed["kind"] == "dispute" and listed["owner_queue"] == "supervisor"
    assert listed["reason"] == "the borrower disputes the fee" and not listed["overdue"]

    evidence = {"text": "statement shows the fee debited twice", "document": "DOC-77"}
    assert (
        await api.post(f"/v1/cases/{case_id}/evidence", json=evidence, headers=COLLECTOR)
    ).status_code == 403
    added = await api.post(f"/v1/cases/{case_id}/evidence", json=evidence, headers=SUPERVISOR)
    assert added.status_code == 202, added.text
    await workflow_env.sleep(timedelta(minutes=1))
    [entry] = (await _case(api, case_id))["evidence"]
    assert entry["text"] == evidence["text"] and entry["document"] == "DOC-77"
    assert entry["added_by"] == "carol"

    before = Decimal((await status(api, loan))["balance"])
    too_much = await api.post(
        f"/v1/cases/{case_id}/resolution",
        json={"resolution": "upheld", "adjustment": str(before + Decimal("0.01"))},
        headers=SUPERVISOR,
    )
    assert too_much.status_code == 422, too_much.text
    assert str(before) in too_much.json()["error"]["message"]
    upheld = await api.post(
        f"/v1/cases/{case_id}/resolution",
        json={"resolution": "upheld", "adjustment": "25.37", "notes": "fee reversed"},
        headers=SUPERVISOR,
    )
    assert upheld.status_code == 202, upheld.text
    assert Decimal(upheld.json()["case"]["balance"]) == before - Decimal("25.37")
    await workflow_env.sleep(timedelta(minutes=1))
    after = await status(api, loan)
    assert Decimal(after["balance"]) == before - Decimal("25.37")
    assert not any(h["kind"] == "dispute" for h in after["holds"])

    case = await _case(api, case_id)
    assert case["status"] == "upheld" and Decimal(case["adjustment"]) == Decimal("25.37")
    assert Decimal(case["balance_after"]) == before - Decimal("25.37")
    again = await api.post(
        f"/v1/cases/{case_id}/resolution", json={"resolution": "rejected"}, headers=SUPERVISOR
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_closed"
    unknown = await api.post(
        "/v1/cases/L-NOPE-1-C1/resolution", json={"resolution": "rejected"}, headers=SUPERVISOR
    )
    assert unknown.status_code == 404

    events = await _events(api, loan)
    types = [e["type"] for e in events]
    assert types.index("balance.adjusted") < types.index("case.resolved")
    [adjusted] = [e for e in events if e["type"] == "balance.adjusted"]
    assert adjusted["data"]["amount"] == "25.37" and adjusted["data"]["case_id"] == case_id
    assert "case.opened" in types
    kinds = [a["kind"] for a in await actions(api, loan)]
    assert kinds.count("case_opened") == 1 and kinds.count("case_resolved") == 1

    # The explained timeline tells the case's story: opened, evidence, resolved.
    timeline = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert timeline.status_code == 200, timeline.text
    told = [e["summary"] for e in timeline.json()["entries"] if e["kind"] == "case"]
    assert len(told) == 3, told
    assert told[0].startswith(f"dispute case {case_id} opened by alice for the supervisor queue")
    assert "Asia/Shanghai" in told[0]
    assert told[1] == f"evidence added to dispute case {case_id} by carol (document DOC-77)"
    assert told[2].startswith(f"dispute case {case_id} upheld by carol: 25.37 off the balance")


async def test_a_rejected_complaint_releases_its_hold_and_collection_resumes_where_it_stands(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-CASE-REJECTED"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    assert open_tasks(database_url, loan)  # the DPD-2 call
    opened = await _open(api, loan, "complaint", "rude collector")
    await workflow_env.sleep(timedelta(minutes=1))
    assert open_tasks(database_url, loan) == []  # the hold cancelled the call
    await sleep_until(workflow_env, due + timedelta(days=4), hour=9)
    assert open_tasks(database_url, loan) == []  # paused: no new call while held
    rejected = await api.post(
        f"/v1/cases/{opened['case']['case_id']}/resolution",
        json={"resolution": "rejected", "notes": "the calls were within the rules"},
        headers=SUPERVISOR,
    )
    assert rejected.status_code == 202, rejected.text
    assert rejected.json()["case"]["status"] == "rejected"
    twice = await api.post(
        f"/v1/cases/{opened['case']['case_id']}/resolution",
        json={"resolution": "upheld", "adjustment": "1.00"},
        headers=SUPERVISOR,
    )
    assert twice.status_code == 409  # resolved already: nothing comes off
    await sleep_until(workflow_env, due + timedelta(days=6), hour=12)
    account = await status(api, loan)
    assert account["holds"] == [] and account["state"] == "delinquent"
    listed = await actions(api, loan)
    resumed = [a for a in listed if a["detail"].get("step_id")]
    released = [a for a in listed if a["kind"] == "hold_released"]
    assert released and released[-1]["detail"]["released_by"] == "carol"
    after_release = [a for a in resumed if a["seq"] > released[-1]["seq"]]
    assert after_release, "the ladder resumed after the rejection"
    assert (await _case(api, opened["case"]["case_id"]))["status"] == "rejected"


async def test_the_complaint_pause_and_its_deadline_follow_the_strategy_not_a_fixed_14_days(
    workflow_env: WorkflowEnvironment, settings: Settings, api: httpx.AsyncClient
) -> None:
    # front_light@2 pauses a complaint for 10 days (default@2: 14).
    from concurrent.futures import ThreadPoolExecutor

    from api.app import create_app
    from worker.main import build_worker

    light = settings.model_copy(update={"strategy": "front_light"})
    app = create_app(light, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as light_api:
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with build_worker(workflow_env.client, light, executor):
                for loan, client, days in (
                    ("L-CASE-PAUSE-LIGHT", light_api, 10),
                    ("L-CASE-PAUSE-DEFAULT", api, 14),
                ):
                    due = await business_today(workflow_env) + timedelta(days=2)
                    await start(client, account_json(loan, due))
                    await sleep_until(workflow_env, due + timedelta(days=3), hour=10)
                    opened = await _open(client, loan, "complaint", "wrong amount")
                    since = datetime.fromisoformat(opened["hold"]["since"])
                    until = datetime.fromisoformat(opened["hold"]["until"])
                    assert until - since == timedelta(days=days), loan
                    deadline = datetime.fromisoformat(opened["case"]["deadline"])
                    assert deadline == until, loan


async def test_a_dispute_unresolved_at_its_deadline_is_escalated_and_stays_paused(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-CASE-OVERDUE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=10)
    opened = await _open(api, loan, "dispute")
    case_id = opened["case"]["case_id"]
    await sleep_until(workflow_env, due + timedelta(days=34), hour=12)
    case = await _case(api, case_id)
    assert case["status"] == "open" and case["overdue"] is True
    assert case["escalated_at"] is not None
    assert datetime.fromisoformat(case["escalated_at"]) >= datetime.fromisoformat(case["deadline"])
    overdue = [a for a in await actions(api, loan) if a["kind"] == "case_overdue"]
    assert len(overdue) == 1 and "escalated to the supervisors" in overdue[0]["detail"]["reason"]
    assert any(h["kind"] == "dispute" for h in (await status(api, loan))["holds"])
    assert "case.overdue" in [e["type"] for e in await _events(api, loan)]
    # Still workable after the deadline: a late answer is better than none.
    late = await api.post(
        f"/v1/cases/{case_id}/resolution", json={"resolution": "rejected"}, headers=SUPERVISOR
    )
    assert late.status_code == 202, late.text


def test_the_case_tables_match_their_migration(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in differences if "case" in repr(d)] == []
