"""Consolidation across a borrower's loans (issue 16 item 2; CONTRACT.md v1.1 "one reminder per
channel per day that names every overdue loan"; docs/borrowers.md "Consolidation"), through the
API on the time-skipping server: loans of one borrower that reach their reminder on the same
day give the person one message naming every loan; their call steps give collectors one call
task listing the loans; an outcome on it is recorded on each loan it names and counted once;
a promise on it is split across the loans as the strategy says, to the cent; a borrower with
one loan gets exactly what a loan without a borrower id gets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date
from store.models import TaskRow
from tests.borrowers.test_borrower_contacts import borrower_body, call_tasks, utc
from tests.conftest import COLLECTOR, SUPERVISOR
from tests.workflows.helpers import (
    TZ,
    actions,
    business_today,
    local_day_of,
    sleep_until,
    start,
    status,
    store_rows,
)


def body(loan: str, due: date, borrower_id: str | None, phone: str, amount: str) -> dict[str, Any]:
    """A loan of the borrower without penalty interest, so the amounts are exact to the cent."""
    made = borrower_body(loan, due, borrower_id)
    made["penalty_rate_daily"] = "0"
    made["instalments"][0]["amount"] = amount
    made["borrower"]["phones"] = [{"kind": "mobile", "number": phone}]
    return made


async def texts_to(api: httpx.AsyncClient, phone: str) -> list[dict[str, Any]]:
    shown = await api.get("/v1/sandbox/messages", params={"to": phone}, headers=SUPERVISOR)
    assert shown.status_code == 200, shown.text
    messages: list[dict[str, Any]] = shown.json()["messages"]
    return messages


def kinds(listed: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in listed if a["kind"] == kind]


async def test_three_loans_due_together_get_one_text_and_one_call_task_naming_all_three(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Three loans of one borrower fall due the same day: on DPD 1 the person gets one SMS
    naming the three loans (by the end of their ids) and their total; the other two loans
    record `consolidated` naming it. On DPD 2 collectors get one call task listing the three;
    a no_answer on it is recorded on each loan and counted once for the person's caps."""
    phone = "+8613800139001"
    loans = ["L-CONS-A1", "L-CONS-B2", "L-CONS-C3"]
    amounts = ["1200.00", "800.50", "300.25"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan, amount in zip(loans, amounts, strict=True):
        await start(api, body(loan, due, "B-CONS-1", phone, amount))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)

    texts = await texts_to(api, phone)
    # The pre-due reminder says 到期 and the overdue one 已逾期: one of each kind, each naming
    # the three loans (separate kinds: docs/borrowers.md "Pre-due reminders").
    pre_due_texts = [m["body"] for m in texts if "已逾期" not in m["body"]]
    assert len(pre_due_texts) == 1, texts
    assert "3笔借款" in pre_due_texts[0] and "¥2,300.75" in pre_due_texts[0], pre_due_texts
    overdue_texts = [m["body"] for m in texts if "已逾期" in m["body"]]
    assert len(overdue_texts) == 1, texts
    text = overdue_texts[0]
    assert "3笔借款" in text and all(loan[-4:] in text for loan in loans), text
    assert "¥2,300.75" in text, text
    assert len(texts) == 2, texts

    dpd_1_day = due + timedelta(days=1)
    sent_by = [
        loan
        for loan in loans
        if [
            a
            for a in kinds(await actions(api, loan), "sms_reminder")
            if local_day_of(a) == dpd_1_day
        ]
    ]
    assert len(sent_by) == 1, "one loan sent the DPD 1 text"
    sender = sent_by[0]
    reminder = kinds(await actions(api, sender), "sms_reminder")[-1]
    assert [n["loan_id"] for n in reminder["detail"]["loans"]] == sorted(loans)
    for loan in loans:
        listed = await actions(api, loan)
        dpd_1 = [a for a in listed if local_day_of(a) == due + timedelta(days=1)]
        if loan == sender:
            assert not kinds(dpd_1, "consolidated")
            continue
        assert not kinds(dpd_1, "sms_reminder")
        [covered] = kinds(dpd_1, "consolidated")
        assert covered["detail"]["by_loan"] == sender
        assert covered["detail"]["covered_action"] == "sms_reminder"

    # DPD 2: one call task for the person, listing the three loans.
    await sleep_until(workflow_env, due + timedelta(days=2), hour=10)
    await workflow_env.sleep(timedelta(minutes=15))
    tasks = [
        t
        for t in call_tasks(database_url, loans)
        if local_date(utc(t["not_before"]), TZ) == due + timedelta(days=2)
    ]
    assert len(tasks) == 1, tasks
    task = tasks[0]
    assert sorted(n["loan_id"] for n in task["detail"]["loans"]) == sorted(loans)
    assert {n["loan_id"]: n["amount_overdue"] for n in task["detail"]["loans"]} == dict(
        zip(loans, amounts, strict=True)
    )
    owner = task["loan_id"]
    for loan in loans:
        if loan != owner:
            dpd_2 = [
                a for a in await actions(api, loan) if local_day_of(a) == due + timedelta(days=2)
            ]
            [attached] = kinds(dpd_2, "consolidated")
            assert attached["detail"]["into_task"] == task["task_id"]

    answer = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome", json={"outcome": "no_answer"}, headers=COLLECTOR
    )
    assert answer.status_code == 200, answer.text
    await workflow_env.sleep(timedelta(minutes=5))
    for loan in loans:
        [shared] = kinds(await actions(api, loan), "shared_outcome")
        assert shared["detail"]["outcome"] == "no_answer"
        assert shared["detail"]["shared_task"] == task["task_id"]
        assert shared["detail"]["from_loan"] == owner
    view = await api.get("/v1/borrowers/B-CONS-1", headers=SUPERVISOR)
    assert view.status_code == 200, view.text
    assert view.json()["contacts_today"] == 1, "the call counts once for the person"
    # The borrower's one story tells the consolidated contacts and the shared outcome.
    timeline = await api.get("/v1/borrowers/B-CONS-1/timeline", headers=SUPERVISOR)
    assert timeline.status_code == 200, timeline.text
    told = [entry["summary"] for entry in timeline.json()["entries"]]
    covered_lines = [s for s in told if "covered by loan" in s and "which names this loan" in s]
    assert len(covered_lines) == 6, "two pre-due texts, two DPD 1 texts, two call steps"
    passed_on = [s for s in told if s.startswith(f"no_answer on call task {task['task_id']}")]
    assert len(passed_on) == 3, told


async def test_loans_falling_due_together_get_one_pre_due_text_naming_each_amount_and_date(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Two loans of one borrower fall due the same day: the day before, the person gets one
    pre-due text naming both loans with the amount and due date of each and the total; the
    other loan records `consolidated` naming the loan that sent it. Money not yet owed is not
    called overdue."""
    phone = "+8613800139010"
    loans = ["L-PRE-0001", "L-PRE-0002"]
    due = await business_today(workflow_env) + timedelta(days=3)
    for loan, amount in zip(loans, ("1200.00", "800.50"), strict=True):
        await start(api, body(loan, due, "B-PRE-1", phone, amount))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=13)

    texts = [m["body"] for m in await texts_to(api, phone)]
    assert len(texts) == 1, texts
    [text] = texts
    assert "2笔借款将到期" in text and "已逾期" not in text, text
    assert "尾号0001应还¥1,200.00" in text and "尾号0002应还¥800.50" in text, text
    assert text.count(f"{due.year}/{due.month}/{due.day}到期") == 2, text
    assert "合计¥2,000.50" in text, text

    sent = {loan: kinds(await actions(api, loan), "sms_reminder") for loan in loans}
    [sender] = [loan for loan in loans if sent[loan]]
    [other] = [loan for loan in loans if loan != sender]
    [reminder] = sent[sender]
    named = reminder["detail"]["loans"]
    assert [(n["loan_id"], n["amount_due"], n["due_on"]) for n in named] == [
        ("L-PRE-0001", "1200.00", due.isoformat()),
        ("L-PRE-0002", "800.50", due.isoformat()),
    ]
    [covered] = kinds(await actions(api, other), "consolidated")
    assert covered["detail"]["by_loan"] == sender
    assert covered["detail"]["covered_action"] == "sms_reminder"
    assert covered["detail"]["step_id_covered"] == "pre_due_sms"


async def test_a_promise_on_a_call_task_naming_two_loans_is_split_oldest_due_first(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Loan OLD fell due a day before loan NEW. OLD's DPD 2 call task names both (NEW is
    overdue by then). A promise of 1500.55 on it is split as the strategy says (oldest due
    first): OLD takes its 800.00 overdue, NEW the 700.55 left; each loan holds its own promise
    and the task's loan records the split."""
    phone = "+8613800139002"
    today = await business_today(workflow_env)
    old, new = "L-SPLIT-OLD", "L-SPLIT-NEW"
    await start(api, body(old, today + timedelta(days=2), "B-CONS-2", phone, "800.00"))
    await start(api, body(new, today + timedelta(days=3), "B-CONS-2", phone, "1200.00"))
    call_day = today + timedelta(days=4)  # OLD's DPD 2, NEW's DPD 1
    await sleep_until(workflow_env, call_day, hour=10)
    await workflow_env.sleep(timedelta(minutes=15))

    tasks = [t for t in call_tasks(database_url, [old, new]) if t["status"] == "open"]
    assert len(tasks) == 1, tasks
    [task] = tasks
    assert task["loan_id"] == old
    assert [n["loan_id"] for n in task["detail"]["loans"]] == [old, new]
    promised = call_day + timedelta(days=3)
    answer = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome",
        json={
            "outcome": "promise_to_pay",
            "promise": {"amount": "1500.55", "promised_date": promised.isoformat()},
        },
        headers=COLLECTOR,
    )
    assert answer.status_code == 200, answer.text
    await workflow_env.sleep(timedelta(minutes=5))

    old_promise = (await status(api, old))["promise"]
    new_promise = (await status(api, new))["promise"]
    assert Decimal(old_promise["amount"]) == Decimal("800.00")
    assert Decimal(new_promise["amount"]) == Decimal("700.55")
    assert new_promise["promised_date"] == promised.isoformat()
    [split] = kinds(await actions(api, old), "shared_outcome")
    assert {k: Decimal(v) for k, v in split["detail"]["shares"].items()} == {
        old: Decimal("800.00"),
        new: Decimal("700.55"),
    }
    [taken] = kinds(await actions(api, new), "shared_outcome")
    assert Decimal(taken["detail"]["share"]) == Decimal("700.55")
    assert taken["detail"]["promise_id"] == new_promise["promise_id"]


async def test_a_promise_above_what_the_named_loans_owe_is_refused_and_nothing_is_recorded(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    phone = "+8613800139003"
    due = await business_today(workflow_env) + timedelta(days=2)
    loans = ["L-OVER-1", "L-OVER-2"]
    for loan in loans:
        await start(api, body(loan, due, "B-CONS-3", phone, "500.00"))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=10)
    await workflow_env.sleep(timedelta(minutes=15))
    [task] = [t for t in call_tasks(database_url, loans) if t["status"] == "open"]
    promised = due + timedelta(days=4)
    answer = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome",
        json={
            "outcome": "promise_to_pay",
            "promise": {"amount": "1000.01", "promised_date": promised.isoformat()},
        },
        headers=COLLECTOR,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_promise"
    for loan in loans:
        assert (await status(api, loan))["promise"] is None
        assert not kinds(await actions(api, loan), "shared_outcome")
    [row] = [r for r in store_rows(database_url, TaskRow, task["loan_id"]) if r["kind"] == "call"]
    assert row["status"] == "open"


async def test_a_borrower_with_one_loan_gets_what_a_loan_without_borrower_id_gets(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """A single loan is never consolidated: its texts and call task are the loan's own, and
    name no list of loans, with or without a borrower id."""
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, body("L-ONE-B", due, "B-CONS-4", "+8613800139004", "1200.00"))
    await start(api, body("L-ONE-N", due, None, "+8613800139005", "1200.00"))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=13)
    seen = []
    for loan in ("L-ONE-B", "L-ONE-N"):
        listed = await actions(api, loan)
        assert not kinds(listed, "consolidated") and not kinds(listed, "shared_outcome")
        assert not any("loans" in a["detail"] for a in listed)
        seen.append([(a["kind"], a["detail"].get("step_id")) for a in listed])
    assert seen[0] == seen[1]
    with_id = await texts_to(api, "+8613800139004")
    without = await texts_to(api, "+8613800139005")
    assert [m["body"] for m in with_id] == [m["body"] for m in without]
    assert len(with_id) == 2 and "笔借款" not in with_id[1]["body"]


async def test_two_subprime_loans_get_one_voice_reminder_and_one_letter_naming_both(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Two subprime loans due together: the DPD 3 recorded call reaches the person once and
    says both loans; the DPD 6 reminder letter is one letter with a row for each loan; the
    other loan records each as `consolidated`."""
    from store.letters import LetterRow

    phone = "+8613800139006"
    loans = ["L-VOICE-0001", "L-VOICE-0002"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan, amount in zip(loans, ("1200.00", "600.00"), strict=True):
        made = body(loan, due, "B-CONS-5", phone, amount)
        made["segment"] = "subprime"
        await start(api, made)
    await sleep_until(workflow_env, due + timedelta(days=6), hour=13)

    shown = await api.get("/v1/sandbox/messages", params={"to": phone}, headers=SUPERVISOR)
    calls = shown.json()["calls"]
    assert len(calls) == 1, calls
    assert "0001" in calls[0]["twiml"] and "0002" in calls[0]["twiml"], calls[0]["twiml"]
    letters = [r for loan in loans for r in store_rows(database_url, LetterRow, loan)]
    assert len(letters) == 1, letters
    sender = letters[0]["loan_id"]
    [letter] = kinds(await actions(api, sender), "letter")
    assert [n["loan_id"] for n in letter["detail"]["loans"]] == loans
    covered = {
        a["detail"]["covered_action"]
        for loan in loans
        for a in kinds(await actions(api, loan), "consolidated")
    }
    assert {"sms_reminder", "voice_reminder", "letter"} <= covered
