"""The timeline explains what people and channels did to an episode (issue 8): holds placed and
released, a worked call with its outcome, contact-detail changes, instalment changes, delivery
statuses and the borrower's STOP, and the contact the gate then refused; none of it leaks the
borrower's name, phones or addresses; and months later, when Temporal's history is gone, the
store's part still explains what it can and says plainly what it lacks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from twilio.request_validator import RequestValidator

from audit.timeline import HISTORY_ONLY, Timeline, build_timeline, render_html
from core.settings import Settings
from store.channels import OutboundContactRow
from store.models import TaskRow
from tests.audit.conftest import ARREARS
from tests.conftest import AUDITOR, COLLECTOR, auth
from tests.workflows.helpers import (
    account_json,
    business_today,
    sleep_until,
    start,
    store_rows,
)

BOB = auth("demo-collector-2")
PHONE = "+8613800138000"
# Every way the borrower's contact data reached the system in this episode.
PII = (
    "Wang Fang",
    "Wang",
    "Fang",
    PHONE,
    "13800138000",
    "Renmin",
    "Nanjing",
    "Huaihai",
    "+8613911112222",
)


async def _signed(
    api: httpx.AsyncClient, settings: Settings, path: str, form: dict[str, str]
) -> None:
    """What Twilio sends: the form, signed with the account's auth token."""
    _sid, token, _from = settings.twilio_account
    url = settings.public_url.rstrip("/") + path
    response = await api.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, form),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code in (200, 204), response.text


def _of(entries: list[dict[str, Any]], kind: str, contains: str = "") -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == kind and contains in e["summary"]]


async def test_holds_outcomes_messages_deliveries_and_refusals_are_explained_without_pii(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
    settings: Settings,
    cli_env: dict[str, str],
) -> None:
    loan = "L-TL-EPISODE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))

    # DPD 1: the pre-due text was delivered, the overdue one was not (handset unreachable);
    # then the borrower answers STOP.
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
    texts = sorted(
        store_rows(database_url, OutboundContactRow, loan), key=lambda r: r["action_seq"]
    )
    assert len(texts) == 2 and all(t["provider_sid"] for t in texts), texts
    status_path = "/v1/webhooks/twilio/status"
    await _signed(
        api,
        settings,
        status_path,
        {"MessageSid": texts[0]["provider_sid"], "MessageStatus": "delivered"},
    )
    await _signed(
        api,
        settings,
        status_path,
        {
            "MessageSid": texts[1]["provider_sid"],
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
        },
    )
    await _signed(
        api,
        settings,
        "/v1/webhooks/twilio/inbound",
        {"MessageSid": "SM-stop-1", "From": PHONE, "To": texts[0]["from_number"], "Body": "STOP"},
    )

    # DPD 2: a collector records a new address, then works the call: a promise, and notes that
    # name the borrower and yet another address.
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    info = await api.post(
        f"/v1/accounts/{loan}/contact-info",
        json={
            "address": "9 Nanjing Road, Jing'an",
            "phones": [{"kind": "home", "number": "+8613911112222"}],
        },
        headers=COLLECTOR,
    )
    assert info.status_code == 202, info.text
    [task] = [t for t in store_rows(database_url, TaskRow, loan) if t["status"] == "open"]
    claimed = await api.post(f"/v1/tasks/{task['task_id']}/claim", headers=COLLECTOR)
    assert claimed.status_code == 200, claimed.text
    outcome = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome",
        json={
            "outcome": "promise_to_pay",
            "promise": {"amount": "600.00", "promised_date": (due + timedelta(days=4)).isoformat()},
            "contact_info": {"address": "88 Huaihai Road, Xuhui"},
            "notes": "Wang Fang moved to 88 Huaihai Road, Xuhui; call 13800138000 after 18:00",
        },
        headers=COLLECTOR,
    )
    assert outcome.status_code == 200, outcome.text

    # The promise breaks; a dispute naming the borrower pauses collection; another collector
    # releases it; the loan system issues a new instalment.
    await sleep_until(workflow_env, due + timedelta(days=8), hour=12)
    disputed = await api.post(
        f"/v1/accounts/{loan}/disputes",
        json={
            "reason": "Wang Fang disputes the late fee",
            "notes": "she paid at the Renmin branch",
        },
        headers=COLLECTOR,
    )
    assert disputed.status_code == 202, disputed.text
    await sleep_until(workflow_env, due + timedelta(days=10), hour=12)
    released = await api.post(
        f"/v1/accounts/{loan}/holds/dispute/release", json={"notes": "fee explained"}, headers=BOB
    )
    assert released.status_code == 202, released.text
    new = {"seq": 8, "due_date": (due + timedelta(days=31)).isoformat(), "amount": "1200.00"}
    changed = await api.post(
        f"/v1/accounts/{loan}/instalments",
        json={"instalments": [new]},
        headers={"Authorization": "Bearer demo-loan-system"},
    )
    assert changed.status_code == 202, changed.text
    await sleep_until(workflow_env, due + timedelta(days=16), hour=12)

    response = await api.get(f"/v1/accounts/{loan}/timeline", headers=AUDITOR)
    assert response.status_code == 200, response.text
    timeline = response.json()
    entries = timeline["entries"]
    assert timeline["history"] == "complete" and timeline["missing"] == []

    # Delivery statuses on the texts they belong to, and the callback the workflow was told.
    [pre_due] = _of(entries, "contact", "SMS reminder via sms (pre_due_reminder)")
    assert pre_due["inputs"]["delivery_status"] == "delivered"
    assert pre_due["inputs"]["dpd"] == -1 and pre_due["inputs"]["days_to_due"] == 1
    assert pre_due["rule"] == "step pre_due_sms: sms_reminder at DPD -1"
    [overdue] = _of(entries, "contact", "SMS reminder via sms (overdue_reminder)")
    assert "provider: undelivered (error 30003)" in overdue["summary"]
    [failed] = _of(entries, "message", "SMS delivery failed")
    assert "provider status undelivered (error 30003)" in failed["summary"]
    assert failed["inputs"]["number"] == "***"
    [stop] = _of(entries, "message", "SMS consent withdrawn")
    assert "opted out" in stop["reason"]

    # The call: claimed and worked, the promise it made, and what the contact details became.
    [changed_info] = _of(entries, "message", "contact details changed by")
    assert changed_info["summary"].endswith("1 phone(s) added, address changed")
    [worked] = _of(entries, "outcome", f"call task {task['task_id']} outcome: promise to pay")
    assert worked["summary"].endswith("(by alice); new contact details recorded")
    assert worked["inputs"]["claimed_by"] == "alice"
    assert worked["inputs"]["outcome"]["contact_info"] == "***"
    [promised] = _of(entries, "promise", "600.00")
    assert promised["reason"] == "the borrower promised during a task (call or visit outcome)"
    assert _of(entries, "promise", "broken")
    # The call step that fell due while the promise was open came later, and says why.
    calls = _of(entries, "decision", "call task")
    [late_call] = [c for c in calls if "due at DPD 5" in (c["reason"] or "")]
    assert "due at DPD 5, taken at DPD" in late_call["reason"]
    # The broken promise's follow-up call (section 7) says why it is there.
    assert [c for c in calls if "broken" in (c["reason"] or "") and "follow up" in c["reason"]]
    assert "paused by open promise" in late_call["reason"]

    # The dispute: who placed it and what it stops; who released it.
    [placed] = _of(entries, "hold", "dispute hold placed by alice, until released")
    assert placed["reason"].startswith("collection paused")
    assert placed["inputs"]["since"]
    [ended] = _of(entries, "hold", "dispute hold released by bob")
    assert ended["inputs"]["ended"] and "collection resumes" in ended["reason"]
    [schedule] = _of(entries, "message", "instalments changed by the loan system: 1 unpaid")
    assert f"#8 1200.00 due {new['due_date']}" in schedule["summary"]

    # After STOP, the DPD-15 text was refused by the consent rule, with where the account stood.
    [refused] = _of(
        entries, "contact_blocked", "SMS reminder (step fe_sms_15) refused: consent.sms"
    )
    assert refused["summary"].endswith("— dropped: no later instant is allowed")
    assert refused["rule"] == "consent.sms"
    assert (refused["inputs"]["dpd"], refused["inputs"]["bucket"]) == (15, "M1")
    assert refused["inputs"]["amount_overdue"]
    assert "step fe_sms_15: sms_reminder at DPD 15" in refused["reason"]

    # No borrower PII anywhere: not in the JSON, not in the HTML report.
    html = render_html(Timeline.model_validate(timeline))
    for text in (response.text, html):
        leaked = [secret for secret in PII if secret in text]
        assert leaked == []
    assert "***" in response.text  # masked, not merely absent

    # Months later: the history is gone (past retention). The store's part still names the
    # rules (from the pinned strategy file), the delivery statuses, the refusal and the STOP,
    # and says what it lacks.
    later = await build_timeline(None, database_url, loan)
    assert later is not None
    assert later.history == "unavailable"
    # Holds are in the store as actions (patch arrears-4-hold-actions) and the borrower's zone
    # in accounts.timezone (migration 0009): neither is missing.
    assert later.missing == [
        m for m in HISTORY_ONLY if not m.startswith(("holds", "the borrower's time zone"))
    ]
    assert later.timezone == "Asia/Shanghai"
    store_entries = [e.model_dump(mode="json") for e in later.entries]
    assert {e["source"] for e in store_entries} == {"store"}
    [pre_due_later] = _of(store_entries, "contact", "(pre_due_reminder)")
    assert pre_due_later["rule"] == "step pre_due_sms: sms_reminder at DPD -1"
    assert pre_due_later["inputs"]["delivery_status"] == "delivered"
    assert _of(store_entries, "contact_blocked", "(step fe_sms_15) refused: consent.sms")
    assert _of(store_entries, "message", "the borrower opted out of SMS by SMS (STOP)")
    assert _of(store_entries, "outcome", "promise to pay (by alice)")
    [placed_later] = _of(store_entries, "hold", "dispute hold placed by alice, until released")
    assert placed_later["reason"].startswith("collection paused")  # notes withheld
    assert _of(store_entries, "hold", "dispute hold released by bob")
    later_text = later.model_dump_json() + render_html(later)
    assert [secret for secret in PII if secret in later_text] == []
    assert "The workflow history is not available" in render_html(later)

    # The CLI with Temporal down: the store's part, with a one-line warning.
    down = {**cli_env, "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    process = await asyncio.create_subprocess_exec(
        *ARREARS,
        "timeline",
        loan,
        "--format",
        "json",
        env=down,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    warning = err.decode().strip()
    assert "warning:" in warning and "store's part" in warning and len(warning.splitlines()) == 1
    printed = Timeline.model_validate_json(out)
    assert printed.history == "unavailable"
    assert [e.summary for e in printed.entries] == [e.summary for e in later.entries]
