"""A deceased borrower's family settles (issue 17 item 2; PLAYBOOK.md section 8: "explore
whether a related party will settle on the borrower's behalf, offering the largest allowed
discount"). Through the API on the time-skipping server with the real worker: the offer is a
letter really written (gated like any contact), a payment of the settled amount records
`settlement.accepted` and closes the account, and what is written off is the balance left at
settlement, to the cent."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_instant
from store.engine import session_scope
from store.events import EventRow
from tests.conftest import ANTI_FRAUD, COLLECTOR, SUPERVISOR
from tests.workflows.helpers import (
    TZ,
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


def events_of(database_url: str, loan: str, type: str) -> list[dict[str, Any]]:
    with session_scope(database_url) as session:
        rows = session.exec(select(EventRow).where(EventRow.loan_id == loan)).all()
        return [dict(r.data) for r in rows if r.type == type]


async def _offered(
    env: WorkflowEnvironment, api: httpx.AsyncClient, database_url: str, loan: str
) -> tuple[dict[str, Any], Any]:
    """Start a 1200.00 loan, report the death on the first call (DPD 2), verify it: the
    settlement offer action, and the due date."""
    due = await business_today(env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(env, due + timedelta(days=2), hour=11)
    [call] = open_tasks(database_url, loan, "call")
    await work(api, call["task_id"], {"outcome": "deceased_reported"}, COLLECTOR)
    await env.sleep(timedelta(minutes=5))
    [verify] = open_tasks(database_url, loan, "verification")
    # The anti-fraud team's work (PLAYBOOK.md section 8), not any collector's.
    path = f"/v1/tasks/{verify['task_id']}"
    refused = await api.post(f"{path}/outcome", json={"outcome": "verified"}, headers=COLLECTOR)
    assert refused.status_code == 403, refused.text
    assert (await api.post(f"{path}/claim", headers=COLLECTOR)).status_code == 403
    listed = await api.get("/v1/tasks", headers=ANTI_FRAUD)
    assert [t["task_id"] for t in listed.json()] == [verify["task_id"]]
    await work(api, verify["task_id"], {"outcome": "verified"}, ANTI_FRAUD)
    await env.sleep(timedelta(minutes=5))
    [offer] = [a for a in await actions(api, loan) if a["kind"] == "settlement_offer"]
    return offer, due


async def test_the_heirs_offer_is_a_letter_and_paying_it_settles_and_writes_off_the_rest(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-SETTLE"
    offer, due = await _offered(workflow_env, api, database_url, loan)
    # 1200.00 + 1200.00 × 0.0005 × 2 days = 1201.20 owed; the strategy's largest discount is
    # 50 %, so 600.60 settles it.
    detail = offer["detail"]
    assert offer["status"] == "written", offer  # really written by the letter channel
    assert detail["delivery"]["pages"] >= 1
    assert (Decimal(detail["balance"]), Decimal(detail["amount"])) == (
        Decimal("1201.20"),
        Decimal("600.60"),
    )
    assert Decimal(detail["discount_pct"]) == Decimal("0.50")

    # The family pays in two parts the next day: the first is not yet the settlement.
    at = local_instant(due + timedelta(days=3), time(10, 0), TZ)
    await sleep_until(workflow_env, due + timedelta(days=3), hour=10)
    await pay(api, loan, "heirs-1", "400.00", at)
    await workflow_env.sleep(timedelta(minutes=1))
    before = await status(api, loan)
    assert before["state"] == "delinquent"
    owed = Decimal(before["balance"])
    await pay(api, loan, "heirs-2", "200.60", at + timedelta(minutes=2))
    await workflow_env.sleep(timedelta(minutes=1))

    after = await status(api, loan)
    assert after["state"] == "closed"
    [settled] = [a for a in await actions(api, loan) if a["kind"] == "settlement_accepted"]
    written_off = owed - Decimal("200.60")
    assert Decimal(settled["detail"]["paid"]) == Decimal("600.60")
    assert Decimal(settled["detail"]["written_off"]) == written_off
    assert written_off == Decimal(after["balance"])
    [event] = events_of(database_url, loan, "settlement.accepted")
    assert (Decimal(event["paid"]), Decimal(event["written_off"])) == (
        Decimal("600.60"),
        written_off,
    )
    # The write-off subflow was stopped: no approval is left to work and nothing is posted.
    await workflow_env.sleep(timedelta(minutes=5))
    assert open_tasks(database_url, loan, "approval") == []
    assert (await status(api, loan))["state"] == "closed"


async def test_less_than_the_settlement_does_not_settle_and_the_write_off_goes_on(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-SETTLE-SHORT"
    _, due = await _offered(workflow_env, api, database_url, loan)
    at: datetime = local_instant(due + timedelta(days=3), time(10, 0), TZ)
    await sleep_until(workflow_env, due + timedelta(days=3), hour=10)
    await pay(api, loan, "heirs-1", "600.59", at)
    await workflow_env.sleep(timedelta(minutes=1))
    assert (await status(api, loan))["state"] == "delinquent"
    [approval] = open_tasks(database_url, loan, "approval")
    await work(api, approval["task_id"], {"outcome": "approved"}, SUPERVISOR)
    await workflow_env.sleep(timedelta(minutes=5))
    after = await status(api, loan)
    assert after["state"] == "written_off"
    # What is written off is the balance at the write-off: 1201.20 less the 600.59 paid (and
    # no penalty accrues under the death hold, or it is in the balance read here).
    [posted] = [
        a
        for a in await actions(api, loan)
        if a["kind"] == "write_off" and a["detail"].get("status") == "posted"
    ]
    assert Decimal(posted["detail"]["amount"]) == Decimal(after["balance"])
    assert events_of(database_url, loan, "settlement.accepted") == []
