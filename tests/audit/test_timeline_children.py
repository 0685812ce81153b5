"""A child workflow's part of an episode in the timeline (issue 8): a death reported on a call
starts the write-off subflow; its verification and approval tasks, its events and its close
appear in order, each specific, and the episode's close says why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.models import TaskRow
from tests.conftest import ANTI_FRAUD, AUDITOR, COLLECTOR, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, sleep_until, start, store_rows


def _open(database_url: str, loan: str, kind: str) -> str:
    [task] = [
        t
        for t in store_rows(database_url, TaskRow, loan)
        if t["status"] == "open" and t["kind"] == kind
    ]
    return str(task["task_id"])


async def _work(api: httpx.AsyncClient, task_id: str, body: dict[str, Any], who: Any) -> None:
    answer = await api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=who)
    assert answer.status_code == 200, answer.text


def _of(entries: list[dict[str, Any]], kind: str, contains: str = "") -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == kind and contains in e["summary"]]


async def test_a_write_off_subflow_appears_with_its_tasks_events_and_close(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-TL-CHILD"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    await _work(api, _open(database_url, loan, "call"), {"outcome": "deceased_reported"}, COLLECTOR)
    await workflow_env.sleep(timedelta(minutes=5))
    await _work(api, _open(database_url, loan, "verification"), {"outcome": "verified"}, ANTI_FRAUD)
    await workflow_env.sleep(timedelta(minutes=5))
    approval = _open(database_url, loan, "approval")
    await _work(api, approval, {"outcome": "approved"}, SUPERVISOR)
    await workflow_env.sleep(timedelta(days=1))

    response = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert response.status_code == 200, response.text
    timeline = response.json()
    entries = timeline["entries"]
    assert timeline["children"] == 1

    [started] = _of(entries, "child", "started WriteOffWorkflow as ")
    [outcome] = _of(entries, "outcome", "outcome: deceased reported (by alice)")
    assert entries.index(outcome) < entries.index(started)
    events = [e for e in _of(entries, "child") if " reported " in e["summary"]]
    assert events and all(e["summary"].startswith("write_off ") for e in events)
    assert [e for e in events if e["summary"].endswith("reported written off")]
    [verification] = _of(entries, "outcome", "verification task ")
    assert verification["summary"].endswith("outcome: verified (by erin)")
    [approved] = _of(entries, "outcome", f"approval task {approval} outcome: approved")
    assert approved["summary"].endswith("(by carol)")
    [posted] = _of(entries, "decision", "write off: posted")
    [written_off] = _of(entries, "transition", "→ written_off")
    assert written_off["reason"] == "written off after verification and approval"
    assert written_off["rule"] is None  # not a DPD rule: the subflow decided
    [child_closed] = _of(entries, "child", "child WriteOffWorkflow")
    assert child_closed["summary"].endswith("completed")
    [closed] = _of(entries, "workflow", "the episode's workflow completed")
    assert closed["reason"].startswith("the account became written_off at DPD ")
    assert entries.index(started) < entries.index(posted) <= entries.index(closed)
