"""Numbers and consent are the person's, not the loan's (issue 16; docs/borrowers.md): a number
reported dead on one loan of a borrower is never called or texted for another, a STOP on one
loan stops texts for all, and an escalation on one loan gives every loan the team lead. Through
the API on the time-skipping server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import zone
from store.models import TaskRow
from tests.borrowers.test_borrower_contacts import borrower_body
from tests.conftest import COLLECTOR, SUPERVISOR
from tests.workflows.helpers import (
    actions,
    business_today,
    instant_of,
    signal_contact_event,
    sleep_until,
    start,
    status,
    store_rows,
)

MOBILE = "+8613800138000"
HOME = "+862161234567"
PHONES = [{"kind": "mobile", "number": MOBILE}, {"kind": "home", "number": HOME}]


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone("UTC"))


def calls(database_url: str, loan: str) -> list[dict[str, Any]]:
    return [t for t in store_rows(database_url, TaskRow, loan) if t["kind"] == "call"]


def texts_and_voice_to(listed: list[dict[str, Any]], number: str, after: datetime) -> list[Any]:
    return [
        a
        for a in listed
        if a["kind"] in ("sms_reminder", "voice_reminder")
        and a["status"] not in ("contact_blocked", "refused", "blocked")
        and a["detail"].get("to") == number
        and instant_of(a) > after
    ]


async def test_a_number_reported_dead_on_one_loan_is_never_called_or_texted_for_another(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Both loans have a call task open to the mobile on DPD 2. The collector on loan A hears
    the number is dead: loan B's open call to it is withdrawn at once, and for the next two
    weeks every call of B goes to the home number and no text or voice message of B goes to
    the dead mobile."""
    loans = ["L-BOR-DEAD-A", "L-BOR-DEAD-B"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-DEAD", person={"phones": PHONES}))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    [task_a] = [t for t in calls(database_url, loans[0]) if t["status"] == "open"]
    [task_b] = [t for t in calls(database_url, loans[1]) if t["status"] == "open"]
    assert task_a["detail"]["to"] == task_b["detail"]["to"] == MOBILE

    answer = await api.post(
        f"/v1/tasks/{task_a['task_id']}/outcome", json={"outcome": "number_dead"}, headers=COLLECTOR
    )
    assert answer.status_code == 200, answer.text
    reported = await workflow_env.get_current_time()
    await workflow_env.sleep(timedelta(minutes=1))
    rows = {t["task_id"]: t for t in calls(database_url, loans[1])}
    assert rows[task_b["task_id"]]["status"] == "cancelled"

    await sleep_until(workflow_env, due + timedelta(days=16))
    later = [t for t in calls(database_url, loans[1]) if utc(t["created_at"]) > reported]
    assert later, "loan B's ladder goes on calling, at the number that works"
    assert {t["detail"]["to"] for t in later} == {HOME}
    assert texts_and_voice_to(await actions(api, loans[1]), MOBILE, reported) == []
    view = await api.get("/v1/borrowers/B-DEAD", headers=SUPERVISOR)
    assert view.status_code == 200, view.text


async def test_a_stop_on_one_loan_stops_texts_for_every_loan_of_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """The borrower replies STOP to loan A's text: loan B sends no text either, each refused
    naming consent.sms, while B's calls go on."""
    loans = ["L-BOR-STOP-A", "L-BOR-STOP-B"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-STOP"))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=7)
    stopped = await signal_contact_event(workflow_env, loans[0], "consent_revoked", MOBILE)
    await sleep_until(workflow_env, due + timedelta(days=16))

    for loan in loans:
        listed = [a for a in await actions(api, loan) if instant_of(a) > stopped]
        kinds = [a["kind"] for a in listed]
        assert "sms_reminder" not in kinds, loan
        assert "call_task" in kinds, loan
        refused = {
            a["detail"]["rule"]
            for a in listed
            if a["kind"] == "contact_blocked" and a["detail"]["blocked_action"] == "sms_reminder"
        }
        assert refused and refused <= {"consent.sms", "borrower.consent.sms"}, (loan, refused)


async def test_a_number_found_again_on_one_loan_is_called_again_for_the_other(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """A restoration travels like a loss. Loan A learns a mobile and then that it is dead;
    loan B, which never had it, takes it as dead too. Skip tracing then gives B the mobile as
    a new number that works: the person's number is alive again, and loan A calls it again."""
    loans = ["L-BOR-BACK-A", "L-BOR-BACK-B"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-BACK", person={"phones": PHONES[1:]}))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=7)
    path = f"/v1/accounts/{loans[0]}/contact-info"
    added = await api.post(path, json={"phones": [PHONES[0]]}, headers=COLLECTOR)
    assert added.status_code == 202, added.text
    dead = await api.post(path, json={"dead_phones": [MOBILE]}, headers=COLLECTOR)
    assert dead.status_code == 202, dead.text
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    for loan in loans:
        assert {t["detail"]["to"] for t in calls(database_url, loan)} == {HOME}, loan

    back = await api.post(
        f"/v1/accounts/{loans[1]}/contact-info", json={"phones": [PHONES[0]]}, headers=COLLECTOR
    )
    assert back.status_code == 202, back.text
    restored = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=9), hour=12)
    for loan in loans:
        targets = {
            t["detail"]["to"] for t in calls(database_url, loan) if utc(t["created_at"]) > restored
        }
        assert MOBILE in targets, (loan, targets)


async def test_escalating_one_loan_gives_every_loan_of_the_borrower_to_the_team_lead(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loans = ["L-BOR-ESC-1", "L-BOR-ESC-2", "L-BOR-ESC-3"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-ESC"))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    answer = await api.post(
        f"/v1/accounts/{loans[1]}/escalate", json={"reason": "abusive caller"}, headers=COLLECTOR
    )
    assert answer.status_code == 202, answer.text
    lead = answer.json()["holder"]
    await workflow_env.sleep(timedelta(minutes=5))
    for loan in loans:
        assert (await status(api, loan))["holder"] == lead, loan
    for loan in (loans[0], loans[2]):
        [moved] = [a for a in await actions(api, loan) if a["kind"] == "reassignment"]
        assert moved["detail"]["kind"] == "escalation"
        assert moved["detail"]["by"].startswith("borrower B-ESC")
