"""The explained timeline (issue 8): every transition, decision, contact, message, payment,
promise and outcome of an episode in order, each with the rule, strategy version and inputs that
decided it; complete after the workflow closed; readable as a table or a standalone HTML report;
free of borrower PII."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.engine import session_scope
from store.models import AccountRow, ActionRow
from tests.audit.conftest import ARREARS
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    business_today,
    chain_histories,
    pay,
    promise,
    sleep_until,
    start,
)

PII = ("Wang Fang", "8613800138000", "Renmin")


def _of(entries: list[dict[str, Any]], kind: str, contains: str = "") -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == kind and contains in e["summary"]]


async def test_the_timeline_explains_a_180_day_episode_after_it_closed(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    tmp_path: Path,
    cli_env: dict[str, str],
) -> None:
    loan = "L-TIMELINE-180"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    made = await promise(api, loan, "600.00", due + timedelta(days=5))
    assert made.status_code == 201, made.text
    await sleep_until(workflow_env, due + timedelta(days=20), hour=12)
    await pay(api, loan, "p-20", "100.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, due + timedelta(days=21), hour=12)
    await pay(api, loan, "p-20", "100.00", await workflow_env.get_current_time())  # a repeat
    await sleep_until(workflow_env, due + timedelta(days=180), hour=12)
    # A loan system's payment ids can be all digits: not a phone number, shown as they are.
    await pay(api, loan, "9180000001", "5000.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, due + timedelta(days=181), hour=12)
    handle = workflow_env.client.get_workflow_handle(f"account-{loan}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    runs = await chain_histories(workflow_env, loan)

    response = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert response.status_code == 200, response.text
    timeline = response.json()
    entries = timeline["entries"]
    assert (timeline["state"], timeline["strategy"], timeline["history"]) == (
        "cured",
        "default@1",
        "complete",
    )
    assert timeline["runs"] == len(runs) >= 4
    assert timeline["timezone"] == "Asia/Shanghai"  # for local times in reports
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert {e["source"] for e in entries} == {"store", "history"}
    assert all(e["strategy"] == "default@1" for e in entries)

    # The episode's frame, from history: opened, each continue-as-new, closed as cured.
    assert _of(entries, "workflow", "episode opened")[0]["inputs"]["amount_due"] == "1200.00"
    assert len(_of(entries, "workflow", "continued as new")) == len(runs) - 1
    [closed] = _of(entries, "workflow", "completed")
    assert closed["inputs"]["state"] == "cured" and entries[-1] == closed
    assert entries[0]["summary"].startswith("collection episode opened")

    # Transitions with the rule that moved them and the DPD they saw.
    [entered] = _of(entries, "transition", "pre_due → delinquent")
    assert entered["rule"] == "unpaid at the end of the due date (borrower's local day)"
    assert entered["reason"] == "not paid by the end of the due date"
    [m2] = _of(entries, "transition", "M1 → M2 at DPD 30, stage mid_range")
    assert m2["rule"] == "bucket M2 = DPD 30-59; stage mid_range = DPD 30-89"
    assert (m2["inputs"]["dpd"], m2["inputs"]["stage"]) == (30, "mid_range")
    [legal] = _of(entries, "transition", "same bucket at DPD 150, stage legal")
    assert legal["rule"] == "bucket M4+ = DPD 90+; stage legal = DPD 150+"
    assert _of(entries, "transition", "→ cured")[0]["rule"] == "amount overdue reached zero"
    expired = _of(entries, "task", "call task expired")
    assert expired and all("window ended" in (e["reason"] or "") for e in expired)

    # Contacts and decisions carry the strategy step and what they saw.
    [reminder] = _of(entries, "contact", "sms reminder")[:1]
    assert reminder["rule"] == "step pre_due_sms: sms_reminder at DPD -1"
    assert reminder["inputs"]["dpd"] <= 0 and reminder["inputs"]["amount_overdue"]
    calls = _of(entries, "decision", "call task")
    assert calls and all("task " in c["summary"] and c["inputs"]["bucket"] for c in calls)
    assert any("only when no open promise" in (c["rule"] or "") for c in calls)

    # The promise: who made it (history) and that it broke (store), with its consequence.
    [made_entry] = _of(entries, "promise", "recorded by alice")
    assert made_entry["inputs"]["amount"] == "600.00" and made_entry["source"] == "store"
    assert _of(entries, "promise", "broken")
    [negative] = _of(entries, "decision", "negative credit record")
    assert "broken" in negative["reason"]

    # Payments: applied with their DPD, and the repeat shown as counted once.
    [applied] = _of(entries, "payment", "p-20 of 100.00 applied; DPD now 20 (bucket M1)")
    assert applied["rule"] and applied["inputs"]["paid_at"]
    # The payment that cured the account comes before the transition it caused.
    [cure] = _of(entries, "transition", "→ cured")
    [final] = _of(entries, "payment", "9180000001 of 5000.00 applied")
    assert entries.index(final) < entries.index(cure)
    [repeat] = _of(entries, "payment", "received again")
    assert repeat["source"] == "history" and "counted once" in repeat["summary"]

    text = response.text
    assert not any(secret in text for secret in PII)

    # Supervisors read it too; collectors do not; the loan system does not.
    assert (await api.get(f"/v1/accounts/{loan}/timeline", headers=SUPERVISOR)).status_code == 200
    for other in (COLLECTOR, LOAN_SYSTEM):
        assert (await api.get(f"/v1/accounts/{loan}/timeline", headers=other)).status_code == 403

    # The CLI builds the same timeline (from the store and Temporal directly) and writes a
    # standalone HTML report.
    report = tmp_path / "report.html"
    as_json = tmp_path / "timeline.json"
    results = await asyncio.gather(
        _run(["timeline", loan, "--format", "html", "-o", str(report)], cli_env),
        _run(["timeline", loan, "--format", "json", "-o", str(as_json)], cli_env),
        _run(["timeline", loan], {**cli_env, "COLUMNS": "200"}),
    )
    for code, out, err in results:
        assert code == 0, out + err
    cli_entries = json.loads(as_json.read_text())["entries"]
    assert [e["summary"] for e in cli_entries] == [e["summary"] for e in entries]
    html = report.read_text()
    assert html.startswith("<!doctype html>") and "<link" not in html and "<script" not in html
    assert f"loan {loan}" in html and html.count("<tr>") == len(entries) + 1
    assert not any(secret in html for secret in PII)
    table = results[2][1]
    assert "pre_due → delinquent" in table and "step pre_due_sms" in table


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *ARREARS, *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_refused_contact_appears_with_the_compliance_rule_that_blocked_it(
    api: httpx.AsyncClient, database_url: str
) -> None:
    """From the store alone (the workflow's history is gone): still explained."""
    at = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    with session_scope(database_url) as session:
        session.add(
            AccountRow(
                loan_id="L-BLOCKED",
                workflow_id="account-L-BLOCKED",
                episode="ep-1",
                state="delinquent",
                bucket="M1",
                stage="front_end",
                segment="standard",
                strategy="default@1",
                currency="CNY",
            )
        )
        session.add(
            ActionRow(
                loan_id="L-BLOCKED",
                episode="ep-1",
                seq=4,
                at=at,
                kind="contact_blocked",
                channel="sms",
                stage="front_end",
                status="blocked",
                detail={
                    "action": "sms_reminder",
                    "rule": "CN-window: contact only 08:00-21:00 borrower local time",
                    "reason": "22:30 local is outside the contact window",
                    "rescheduled_to": "2026-12-04T00:00:00+00:00",
                    "dpd": 2,
                    "bucket": "M1",
                },
            )
        )
    response = await api.get("/v1/accounts/L-BLOCKED/timeline", headers=AUDITOR)
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["history"] == "unavailable"
    [blocked] = timeline["entries"]
    assert blocked["kind"] == "contact_blocked" and blocked["source"] == "store"
    assert blocked["rule"] == "CN-window: contact only 08:00-21:00 borrower local time"
    assert blocked["reason"] == "22:30 local is outside the contact window"
    assert "sms reminder via sms refused" in blocked["summary"]
    assert "rescheduled to 2026-12-04" in blocked["summary"]
    assert (blocked["inputs"]["dpd"], blocked["strategy"]) == (2, "default@1")


async def test_the_timeline_of_an_unknown_loan_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/accounts/L-NOBODY/timeline", headers=AUDITOR)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
