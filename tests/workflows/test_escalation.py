"""Escalation (PLAYBOOK.md section 5) and the grievance rule (section 10) through the API: a
supervisor reassigns any account or task, a collector hands an account they hold to the team
lead, and the collector a borrower complained about never gets the account's work back."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import AUDITOR, COLLECTOR, SUPERVISOR
from tests.workflows.helpers import account_json, actions, business_today, sleep_until, start
from tests.workflows.test_branches import BOB, first_call_task, open_tasks, work


async def test_a_supervisor_reassigns_an_account_and_its_open_work_goes_to_the_new_holder(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-ESC-REASSIGN"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    path = f"/v1/accounts/{loan}/reassign"
    body = {"to": "bob", "reason": "workload balancing"}
    assert (await api.post(path, json=body, headers=COLLECTOR)).status_code == 403
    assert (
        await api.post(path, json={"to": "", "reason": "x"}, headers=SUPERVISOR)
    ).status_code == 422
    answer = await api.post(path, json=body, headers=SUPERVISOR)
    assert answer.status_code == 202, answer.text
    await workflow_env.sleep(timedelta(minutes=1))
    [reassignment] = [a for a in await actions(api, loan) if a["kind"] == "reassignment"]
    assert reassignment["detail"]["to"] == "bob" and reassignment["detail"]["by"] == "carol"
    [moved] = open_tasks(database_url, loan)
    assert moved["task_id"] == task["task_id"] and moved["assignee"] == "bob"
    account = await api.get(f"/v1/accounts/{loan}", headers=AUDITOR)
    assert account.json()["holder"] == "bob"
    # Work created later for the account goes to its holder too.
    await sleep_until(workflow_env, due + timedelta(days=5), hour=20)
    assert all(t["assignee"] == "bob" for t in open_tasks(database_url, loan))


async def test_a_collector_hands_the_account_they_hold_to_the_team_lead_and_nobody_else_may(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-ESC-LEAD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    await api.post(
        f"/v1/accounts/{loan}/reassign", json={"to": "alice", "reason": "hers"}, headers=SUPERVISOR
    )
    await workflow_env.sleep(timedelta(minutes=1))
    path = f"/v1/accounts/{loan}/escalate"
    body = {"reason": "borrower asks for a manager"}
    not_theirs = await api.post(path, json=body, headers=BOB)
    assert not_theirs.status_code == 403 and "alice" in not_theirs.json()["error"]["message"]
    handed = await api.post(path, json=body, headers=COLLECTOR)  # alice holds it
    assert handed.status_code == 202, handed.text
    await workflow_env.sleep(timedelta(minutes=1))
    [escalation] = [a for a in await actions(api, loan) if a["detail"].get("kind") == "escalation"]
    assert escalation["detail"]["to"] == "carol"  # ARREARS_TEAM_LEAD's default
    assert all(t["assignee"] == "carol" for t in open_tasks(database_url, loan))


async def test_after_a_grievance_the_collector_can_neither_claim_nor_be_given_the_accounts_work(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-ESC-GRIEVANCE"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    await work(api, task["task_id"], {"outcome": "refused", "reason": "collector_grievance"})
    await sleep_until(workflow_env, due + timedelta(days=5), hour=20)
    [later] = open_tasks(database_url, loan)
    assert later["detail"]["never_to"] == ["alice"]
    claimed = await api.post(f"/v1/tasks/{later['task_id']}/claim", headers=COLLECTOR)
    assert claimed.status_code == 409 and claimed.json()["error"]["code"] == "task_barred"
    given = await api.post(
        f"/v1/tasks/{later['task_id']}/assign", json={"assignee": "alice"}, headers=SUPERVISOR
    )
    assert given.status_code == 409 and given.json()["error"]["code"] == "task_barred"
    back = await api.post(
        f"/v1/accounts/{loan}/reassign", json={"to": "alice", "reason": "x"}, headers=SUPERVISOR
    )
    assert back.status_code == 409, back.text
    nothing_for_alice = await api.post("/v1/tasks:claim-next", headers=COLLECTOR)
    assert nothing_for_alice.status_code == 404, nothing_for_alice.text
    assert nothing_for_alice.json()["error"]["code"] == "no_task"
    for_bob = await api.post("/v1/tasks:claim-next", headers=BOB)
    assert for_bob.status_code == 200 and for_bob.json()["task_id"] == later["task_id"]
    to_bob = await api.post(
        f"/v1/tasks/{later['task_id']}/assign", json={"assignee": "bob"}, headers=SUPERVISOR
    )
    assert to_bob.status_code == 200 and to_bob.json()["assignee"] == "bob"
    assert (
        await api.post(
            f"/v1/tasks/{later['task_id']}/assign", json={"assignee": "bob"}, headers=COLLECTOR
        )
    ).status_code == 403


async def test_a_collector_acts_only_on_accounts_they_hold_or_nobody_holds(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-ESC-HOLDER"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    dispute = {"reason": "disputes the fee"}
    unheld = await api.post(f"/v1/accounts/{loan}/complaints", json=dispute, headers=BOB)
    assert unheld.status_code == 202, unheld.text  # nobody holds it yet
    await api.post(
        f"/v1/accounts/{loan}/reassign", json={"to": "alice", "reason": "hers"}, headers=SUPERVISOR
    )
    await workflow_env.sleep(timedelta(minutes=1))
    for path, body in (
        ("disputes", dispute),
        ("hardship", {"cause": "ill", "term": "short", "surmountable": True}),
        ("promises", {"amount": "100.00", "promised_date": (due + timedelta(days=4)).isoformat()}),
    ):
        refused = await api.post(f"/v1/accounts/{loan}/{path}", json=body, headers=BOB)
        assert refused.status_code == 403, (path, refused.text)
        assert "held by alice" in refused.json()["error"]["message"]
    held = await api.post(f"/v1/accounts/{loan}/disputes", json=dispute, headers=COLLECTOR)
    assert held.status_code == 202, held.text
    by_supervisor = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "ill", "term": "short", "surmountable": True},
        headers=SUPERVISOR,
    )
    assert by_supervisor.status_code == 202, by_supervisor.text
