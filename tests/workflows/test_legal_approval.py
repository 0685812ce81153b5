"""Filing a lawsuit needs the legal team's approval (PLAYBOOK.md section 1, legal 150+:
judicial action; issue 17 item 4), end to end on the real AccountWorkflow through the API, under
`default@2`: at DPD 150 the filing is an `approval` task for the legal role (a collector gets
403, a supervisor does not decide it, four eyes against the requester), filed only when
approved, never for a balance below the strategy's minimum; `legal.approved` carries who
approved and the balance; the court's filing date and case number come back through the legal
status API; while an agency works the account our own calls, texts and letters stop except the
notice the law requires."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from core.settings import DEMO_API_KEYS, Settings
from store import legal
from store.engine import session_scope
from tests.agencies.conftest import add_agency
from tests.conftest import ANTI_FRAUD, COLLECTOR, LEGAL, SUPERVISOR, auth
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    chain_histories,
    sleep_until,
    start,
    status,
)
from tests.workflows.test_branches import open_tasks, work
from tests.workflows.test_settlement import events_of
from worker.main import workflow_runner
from workflows import WORKFLOWS

GRACE = auth("test-legal-2")
"""A second legal approver (the demo keys have only frank), for four eyes."""


@pytest.fixture
def settings(database_url: str, tmp_path: Path, sandbox_url: str, policy_dir: Path) -> Settings:
    import uuid

    return Settings(
        DATABASE_URL=database_url,
        ARREARS_POLICY_DIR=policy_dir,
        ARREARS_TASK_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
        ARREARS_API_KEYS=f"{DEMO_API_KEYS},test-legal-2:legal:grace",
        ARREARS_DATA_DIR=tmp_path / "data",
        ARREARS_SANDBOX_URL=sandbox_url,
        ARREARS_PUBLIC_URL="http://127.0.0.1:9",
    )


def cases(url: str, loan: str) -> list[legal.LegalCaseRow]:
    with session_scope(url) as session:
        return legal.cases_for_loan(session, loan)


def of_kind(listed: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] == kind]


def filings(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lawsuits = of_kind(listed, "lawsuit")
    return [a for a in lawsuits if a["detail"].get("template") == "lawsuit_filing"]


async def _at_dpd_151(
    env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str, **account: Any
) -> Any:
    due = await business_today(env) + timedelta(days=2)
    await start(api, account_json(loan, due, **account))
    await sleep_until(env, due + timedelta(days=151), hour=12)
    return due


async def test_a_lawsuit_is_filed_only_after_a_legal_approver_approves_it(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-LEGAL-APPROVE"
    await _at_dpd_151(workflow_env, api, loan)
    listed = await actions(api, loan)
    assert filings(listed) == []  # DPD 150 came: nothing filed yet
    [case] = cases(database_url, loan)
    assert case.status == legal.PREPARING  # prepared at DPD 120, as before
    [task] = open_tasks(database_url, loan, "approval")
    assert task["detail"]["approves"] == "lawsuit_filing"
    assert task["detail"]["requested_by"] == "strategy default@2 step legal_lawsuit_150"
    task_id = task["task_id"]

    # Collectors neither see nor touch it; the anti-fraud team neither; a supervisor sees it
    # but the decision is the legal team's.
    seen = await api.get("/v1/tasks", params={"kind": "approval"}, headers=COLLECTOR)
    assert seen.status_code == 403
    for who in (COLLECTOR, ANTI_FRAUD, SUPERVISOR):
        claimed = await api.post(f"/v1/tasks/{task_id}/claim", headers=who)
        assert claimed.status_code == 403, claimed.text
    for who in (COLLECTOR, SUPERVISOR):
        decided = await api.post(
            f"/v1/tasks/{task_id}/outcome", json={"outcome": "approved"}, headers=who
        )
        assert decided.status_code == 403, decided.text
    listed_by_supervisor = await api.get("/v1/tasks", headers=SUPERVISOR)
    assert task_id in [t["task_id"] for t in listed_by_supervisor.json()]

    # The legal team lists only its filing approvals, claims it and approves.
    mine = await api.get("/v1/tasks", headers=LEGAL)
    assert [t["task_id"] for t in mine.json()] == [task_id]
    assert (await api.get("/v1/tasks", params={"kind": "call"}, headers=LEGAL)).status_code == 403
    claimed = await api.post("/v1/tasks:claim-next", headers=LEGAL)
    assert claimed.status_code == 200 and claimed.json()["task_id"] == task_id
    balance = (await status(api, loan))["balance"]
    approved_now = await work(api, task_id, {"outcome": "approved"}, who=LEGAL)
    assert approved_now["effect"] == "filing approved by frank: suit filed"
    await workflow_env.sleep(timedelta(minutes=5))

    listed = await actions(api, loan)
    [approved] = of_kind(listed, "legal_filing")
    assert approved["detail"]["decision"] == "approved"
    assert approved["detail"]["decided_by"] == "frank"
    assert approved["detail"]["balance"] == balance
    [filed] = filings(listed)
    assert filed["seq"] > approved["seq"]
    [case] = cases(database_url, loan)
    assert case.status == legal.FILED
    [event] = events_of(database_url, loan, "legal.approved")
    assert (event["approved_by"], event["balance"], event["currency"]) == ("frank", balance, "CNY")
    assert event["case_id"] == case.case_id
    assert len(events_of(database_url, loan, "legal.filed")) == 1

    # The court's filing date and case number come back through the legal status API.
    day = (await workflow_env.get_current_time()).date()
    path = f"/v1/legal-cases/{case.case_id}/status"
    news = {
        "status": "filed",
        "filed_on": day.isoformat(),
        "case_number": "(2027)沪0115民初1234号",
        "court": "Pudong New Area People's Court",
        "note": "accepted by the court",
    }
    reported = await api.post(path, json=news, headers=LEGAL)
    assert reported.status_code == 200, reported.text
    read = await api.get(f"/v1/accounts/{loan}/legal-cases", headers=LEGAL)
    [shown] = read.json()
    assert (shown["filed_on"], shown["case_number"], shown["court"]) == (
        day.isoformat(),
        "(2027)沪0115民初1234号",
        "Pudong New Area People's Court",
    )
    other = await api.post(path, json={**news, "case_number": "(2027)X2"}, headers=LEGAL)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    future = {"status": "hearing", "filed_on": (day + timedelta(days=30)).isoformat()}
    assert (await api.post(path, json=future, headers=LEGAL)).status_code == 422
    assert (await api.post(path, json={"status": "hearing"}, headers=COLLECTOR)).status_code == 403

    # The new path is deterministic: every run of this episode replays against the code.
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=workflow_env.client.data_converter,
        workflow_runner=workflow_runner(),
    )
    for history in await chain_histories(workflow_env, loan):
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure


async def test_the_requester_cannot_approve_and_a_rejected_filing_leaves_collection_going(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-LEGAL-REJECT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    # The legal officer frank holds the file: he is the requester, so another person decides.
    held = await api.post(
        f"/v1/accounts/{loan}/reassign",
        json={"to": "frank", "reason": "legal officer prepares the suit"},
        headers=SUPERVISOR,
    )
    assert held.status_code in (200, 202), held.text
    await sleep_until(workflow_env, due + timedelta(days=151), hour=12)
    [task] = open_tasks(database_url, loan, "approval")
    assert task["detail"]["requested_by"] == "frank"
    own = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome", json={"outcome": "approved"}, headers=LEGAL
    )
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes"
    decided = await work(
        api, task["task_id"], {"outcome": "rejected", "notes": "claim too weak"}, who=GRACE
    )
    assert decided["effect"] == "filing rejected by grace"
    await workflow_env.sleep(timedelta(minutes=5))
    listed = await actions(api, loan)
    [rejected] = of_kind(listed, "legal_filing")
    assert rejected["detail"]["decision"] == "rejected"
    assert rejected["detail"]["notes"] == "claim too weak"
    assert "collection goes on without a suit" in rejected["detail"]["reason"]
    assert filings(listed) == []
    assert [c.status for c in cases(database_url, loan)] == [legal.PREPARING]
    assert events_of(database_url, loan, "legal.approved") == []
    assert (await status(api, loan))["state"] == "delinquent"


async def test_no_suit_below_the_minimum_balance_and_one_at_it_goes_to_approval_to_the_cent(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """default@2's `min_suit_balance` is 1000.00: 999.99 is below it, 1000.00 is not."""
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan, amount in (("L-LEGAL-BELOW", "999.99"), ("L-LEGAL-AT", "1000.00")):
        await start(api, account_json(loan, due, amounts=(amount,), rate="0"))
    await sleep_until(workflow_env, due + timedelta(days=151), hour=12)

    below = await actions(api, "L-LEGAL-BELOW")
    [withheld] = of_kind(below, "legal_filing")
    assert withheld["detail"]["decision"] == "withheld"
    assert (withheld["detail"]["balance"], withheld["detail"]["min_suit_balance"]) == (
        "999.99",
        "1000.00",
    )
    assert "999.99" in withheld["detail"]["reason"] and "1000.00" in withheld["detail"]["reason"]
    assert open_tasks(database_url, "L-LEGAL-BELOW", "approval") == []
    assert filings(below) == []

    at = await actions(api, "L-LEGAL-AT")
    assert of_kind(at, "legal_filing") == []
    [task] = open_tasks(database_url, "L-LEGAL-AT", "approval")
    assert Decimal(str(task["detail"]["amount"])) == Decimal("1000.00")


async def test_while_placed_our_calls_texts_and_letters_stop_but_the_legal_notice_goes_out(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Placed Agency")
    loan = "L-LEGAL-PLACED"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    placed = await status(api, loan)
    assert placed["agency"] == "Placed Agency"
    await sleep_until(workflow_env, due + timedelta(days=100), hour=12)
    listed = await actions(api, loan)
    [placed_at] = [a["seq"] for a in of_kind(listed, "oca_placement")]
    after = [a for a in listed if a["seq"] > placed_at]
    in_house = {"call_task", "sms_reminder", "letter", "field_visit", "voice_reminder"}
    sent = [(a["kind"], a["detail"].get("template")) for a in after if a["kind"] in in_house]
    # Only the notice the law requires before legal action (hard_core_notice, DPD 91).
    assert sent == [("sms_reminder", "hard_core_notice")]
    stopped = [
        a["detail"]["step_id_blocked"]
        for a in of_kind(after, "contact_blocked")
        if a["detail"]["rule"] == "agency.placed"
    ]
    assert {"mr_call_70", "mr_sms_75", "mr_call_82"} <= set(stopped)
    # Legal steps are not in-house contact: the lawyer's letter still goes out.
    assert of_kind(after, "lawyer_letter")
