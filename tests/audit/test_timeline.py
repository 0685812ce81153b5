"""The explained timeline (issue 8): every transition, decision, contact, message, payment,
promise and outcome of an episode in order, each with the rule, strategy version and inputs that
decided it; complete after the workflow closed; readable as a table or a standalone HTML report;
free of borrower PII."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from audit.timeline import build_timeline
from domain.calendar import local_date
from store.models import ActionRow
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
    store_rows,
)

PII = ("Wang Fang", "8613800138000", "Renmin")


def cure_reason(entries: list[dict[str, Any]]) -> str:
    [cure] = [e for e in entries if e["kind"] == "transition" and "→ cured" in e["summary"]]
    return str(cure["reason"])


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
        "default@2",
        "complete",
    )
    assert timeline["runs"] == len(runs) >= 4
    assert timeline["timezone"] == "Asia/Shanghai"  # for local times in reports
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert {e["source"] for e in entries} == {"store", "history"}
    assert all(e["strategy"] == "default@2" for e in entries)

    # The episode's frame, from history: opened, each continue-as-new, closed as cured.
    assert _of(entries, "workflow", "episode opened")[0]["inputs"]["amount_due"] == "1200.00"
    assert len(_of(entries, "workflow", "continued as new")) == len(runs) - 1
    [closed] = _of(entries, "workflow", "completed")
    assert closed["inputs"]["state"] == "cured" and entries[-1] == closed
    # The close says why: the last transition.
    assert closed["reason"].startswith("the account became cured at DPD ")
    assert closed["reason"].endswith(f": {cure_reason(entries)}")
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
    expired = [e for e in entries if e["kind"] == "task" and e["summary"].endswith(" expired")]
    assert len(expired) >= 5
    for task in expired:
        kind = task["summary"].split(" task ")[0]
        assert task["reason"].startswith(f"the {kind} task's window ended at "), task

    # Contacts and decisions carry the strategy step and what they saw.
    [reminder] = _of(entries, "contact", "SMS reminder via sms (pre_due_reminder)")
    assert reminder["rule"] == "step pre_due_sms: sms_reminder at DPD -1"
    # One day before the due date: the DPD the rule names, not a clamped 0.
    assert (reminder["inputs"]["dpd"], reminder["inputs"]["days_to_due"]) == (-1, 1)
    assert reminder["inputs"]["amount_overdue"] == "0"
    assert reminder["reason"] == "the ladder step's day came"
    calls = _of(entries, "decision", "call task via phone: task_created, task ")
    assert len(calls) == len([e for e in expired if e["summary"].startswith("call task ")])
    assert all(c["inputs"]["bucket"] in ("M1", "M2", "M3", "M4+") for c in calls)
    assert all(c["rule"].startswith("step ") for c in calls)
    [first_call] = [c for c in calls if c["rule"].startswith("step fe_call_2:")]
    assert first_call["rule"] == "step fe_call_2: call_task at DPD 2, only when no open promise"
    # The DPD-5 call fell due while the promise was open: it came later, and says why.
    [late] = [c for c in calls if c["rule"].startswith("step fe_call_5:")]
    assert "due at DPD 5, taken at DPD" in late["reason"]
    assert "paused by open promise" in late["reason"]
    # Strategy once: no reason repeats "strategy default@2".
    assert not [e for e in entries if "strategy default@2" in (e["reason"] or "")]

    # The promise: who made it (history) and that it broke (store), with its consequence.
    [made_entry] = _of(entries, "promise", "recorded by alice")
    assert made_entry["inputs"]["amount"] == "600.00" and made_entry["source"] == "store"
    [broken] = _of(entries, "promise", " broken")
    assert broken["reason"] == f"judged at the end of {due + timedelta(days=5)} plus the grace days"
    [negative] = _of(entries, "decision", "negative credit record")
    assert negative["reason"].startswith(f"promise {broken['inputs']['promise_id']} broken")

    # Payments: applied with their DPD, and the repeat shown as counted once.
    [applied] = _of(entries, "payment", "p-20 of 100.00 CNY applied; DPD now 20 (bucket M1)")
    assert applied["rule"] == (
        "allocated penalty_first: penalty first, then principal, oldest instalment first"
    )
    assert applied["inputs"]["paid_at"].endswith("Z") and applied["inputs"]["currency"] == "CNY"
    # The payment that cured the account comes before the transition it caused.
    [cure] = _of(entries, "transition", "→ cured")
    [final] = _of(entries, "payment", "9180000001 of 5000.00 CNY applied")
    assert entries.index(final) < entries.index(cure)
    [repeat] = _of(entries, "payment", "received again")
    assert repeat["source"] == "history"
    assert repeat["summary"] == "payment p-20 of 100.00 CNY received again: counted once"

    text = response.text
    assert not any(secret in text for secret in PII)

    # Supervisors read it too, and a collector while nobody else holds the account (issue 15);
    # the loan system does not.
    assert (await api.get(f"/v1/accounts/{loan}/timeline", headers=SUPERVISOR)).status_code == 200
    assert (await api.get(f"/v1/accounts/{loan}/timeline", headers=COLLECTOR)).status_code == 200
    assert (await api.get(f"/v1/accounts/{loan}/timeline", headers=LOAN_SYSTEM)).status_code == 403

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
    # The footer states the business time covered (not the wall clock alone).
    first, last = entries[0]["at"][:16].replace("T", " "), entries[-1]["at"][:16].replace("T", " ")
    assert f"Business time covered: {first} to {last} (UTC)" in html
    # The strategy is printed once, in the header, not in every row.
    assert html.count("strategy default@2") == 1
    table = results[2][1]
    assert "pre_due → delinquent" in table and "step pre_due_sms" in table


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *ARREARS, *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_refused_contact_names_its_ladder_step_the_rule_and_when_it_may_go_instead(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Reg F: a New York borrower with a Los Angeles mobile may not be texted at 08:00 New York
    time (05:00 in Los Angeles): the workflow refuses the text and moves it. The timeline says
    which step, which rule, the earliest allowed instant on the borrower's clock, and where the
    account stood; months later (no history) the store's part still says it, in UTC."""
    loan = "L-TL-BLOCKED"
    tz = "America/New_York"
    due = local_date(await workflow_env.get_current_time(), tz) + timedelta(days=2)
    body = account_json(loan, due)
    body["borrower"].update(
        timezone=tz, locale="en-US", phones=[{"kind": "mobile", "number": "+12135550123"}]
    )
    body.update(currency="USD", jurisdiction="US")
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)

    [row] = [
        a
        for a in store_rows(database_url, ActionRow, loan)
        if a["kind"] == "contact_blocked" and a["detail"]["step_id_blocked"] == "pre_due_sms"
    ]
    earliest = datetime.fromisoformat(row["detail"]["rescheduled_to"])
    on_their_clock = earliest.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    response = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert response.status_code == 200, response.text
    [blocked] = [
        e
        for e in response.json()["entries"]
        if e["kind"] == "contact_blocked" and e["ref"] == f"action {row['seq']}"
    ]
    assert blocked["summary"] == (
        "SMS reminder (step pre_due_sms) refused: us_regf.call_window — earliest allowed "
        f"{on_their_clock} {tz}"
    )
    assert blocked["rule"] == "us_regf.call_window" and blocked["source"] == "store"
    assert blocked["reason"].endswith("the contact was step pre_due_sms: sms_reminder at DPD -1")
    inputs = blocked["inputs"]
    assert (inputs["blocked_action"], inputs["step_id"], inputs["profile"]) == (
        "sms_reminder",
        "pre_due_sms",
        row["detail"]["profile"],
    )
    assert (inputs["dpd"], inputs["bucket"], inputs["amount_overdue"]) == (
        row["detail"]["dpd"],
        row["detail"]["bucket"],
        row["detail"]["amount_overdue"],
    )
    assert blocked["strategy"] == "default@2"

    later = await build_timeline(None, database_url, loan)
    assert later is not None and later.history == "unavailable"
    [alone] = [e for e in later.entries if e.ref == f"action {row['seq']}"]
    # The borrower's zone is in the store (accounts.timezone): the same local clock.
    assert alone.summary == blocked["summary"]
    assert alone.rule == "us_regf.call_window"
    assert alone.reason == blocked["reason"]  # the step's rule from the pinned strategy file


async def test_the_timeline_of_an_unknown_loan_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/accounts/L-NOBODY/timeline", headers=AUDITOR)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
