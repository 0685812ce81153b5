"""Restructure accounting (issue 17 item 1; PLAYBOOK.md sections 2 and 9): an accepted plan
replaces the overdue schedule, waives what the offer waives, re-ages the account, accrues penalty
only on overdue plan instalments, closes at zero, and a broken plan goes back to collection at
the DPD of its oldest unpaid instalment with the ladder resumed from that stage. Every amount to
the cent, through the API on the time-skipping server."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    pay,
    sleep_until,
    start,
    status,
)


async def accepted_plan(
    env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str
) -> tuple[dict[str, Any], date]:
    """A recurring delinquent (eligible) reports a long-term, surmountable hardship at DPD 5
    (1200.00 overdue, 3.00 penalty) and accepts the offer the same day: the
    `restructure_accepted` action and the plan's first due date."""
    due = await business_today(env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(env, due + timedelta(days=5), hour=12)
    offered = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "job lost", "term": "long", "surmountable": True},
        headers=COLLECTOR,
    )
    assert "restructuring offered" in offered.json()["effect"], offered.text
    await env.sleep(timedelta(minutes=5))
    answer = await api.post(
        f"/v1/accounts/{loan}/restructure", json={"decision": "accept"}, headers=COLLECTOR
    )
    assert answer.status_code == 202, answer.text
    await env.sleep(timedelta(minutes=5))
    [accepted] = [a for a in await actions(api, loan) if a["kind"] == "restructure_accepted"]
    first_due = date.fromisoformat(accepted["detail"]["instalments"][0]["due_date"])
    return accepted, first_due


async def test_an_accepted_plan_replaces_the_schedule_waives_the_penalty_and_re_ages_the_account(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """Sections 2 and 9: the new schedule is the plan's (six 200.00 instalments), the 3.00
    penalty is waived, the account is current at DPD 0; a plan instalment 5 days late makes it
    DPD 5 / M1 and accrues 200.00 × 0.0005 × 5 = 0.50 on that instalment alone; paying the plan
    and that penalty closes the account at exactly zero."""
    loan = "L-RS-ACCOUNTING"
    accepted, first_due = await accepted_plan(workflow_env, api, loan)
    detail = accepted["detail"]
    assert Decimal(detail["waived"]) == Decimal("3.00")
    assert Decimal(detail["total"]) == Decimal("1200.00")
    assert [Decimal(i["amount"]) for i in detail["instalments"]] == [Decimal("200.00")] * 6
    assert detail["replaced"] == [7]
    now = await status(api, loan)
    assert (now["state"], now["dpd"], now["bucket"]) == ("restructured", 0, "current")
    assert Decimal(now["balance"]) == Decimal("1200.00")
    assert Decimal(now["amount_overdue"]) == 0
    assert [Decimal(i["unpaid"]) for i in now["instalments"] if i["seq"] != 7] == [
        Decimal("200.00")
    ] * 6

    await sleep_until(workflow_env, first_due + timedelta(days=5), hour=12)
    late = await status(api, loan)
    assert (late["state"], late["dpd"], late["bucket"]) == ("restructured", 5, "M1")
    assert Decimal(late["amount_overdue"]) == Decimal("200.50")
    assert Decimal(late["balance"]) == Decimal("1200.50")

    await pay(api, loan, "plan-1", "200.50", await workflow_env.get_current_time())
    await pay(api, loan, "plan-rest", "1000.00", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(hours=1))
    final = await status(api, loan)
    assert final["state"] == "closed"
    assert Decimal(final["balance"]) == 0
    assert Decimal(final["paid_total"]) == Decimal("1200.50")


async def test_a_broken_plan_returns_to_collection_at_its_oldest_unpaid_instalments_dpd(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """A plan instalment unpaid 15 days breaks the plan: the account is delinquent again at
    DPD 16 of that instalment (front end, M1), owing 200.00 + 200.00 × 0.0005 × 16 = 201.60
    overdue and 1201.60 in all, and the ladder resumes from the front end's entry: the latest
    SMS, call and letter of the stage go out that day."""
    loan = "L-RS-BROKEN"
    _, first_due = await accepted_plan(workflow_env, api, loan)
    broken_on = first_due + timedelta(days=16)
    await sleep_until(workflow_env, broken_on, hour=12)
    now = await status(api, loan)
    assert (now["state"], now["dpd"], now["bucket"], now["stage"]) == (
        "delinquent",
        16,
        "M1",
        "front_end",
    )
    assert Decimal(now["amount_overdue"]) == Decimal("201.60")
    assert Decimal(now["balance"]) == Decimal("1201.60")
    listed = await actions(api, loan)
    resumed = {
        a["detail"].get("step_id")
        for a in listed
        if a["detail"].get("step_id") and a["at"] >= broken_on.isoformat()
    }
    assert {"fe_sms_15", "fe_call_14", "fe_letter_7"} <= resumed


async def test_willing_but_not_able_a_hardship_that_cannot_be_overcome_is_not_offered_a_plan(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """Section 2: restructuring is for borrowers "willing and able to pay"; a long-term
    hardship recorded as not surmountable is not offered one, even when otherwise eligible."""
    loan = "L-RS-UNABLE"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=5), hour=12)
    answer = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "permanent disability", "term": "long", "surmountable": False},
        headers=COLLECTOR,
    )
    assert answer.status_code == 202, answer.text
    assert "not eligible for restructuring" in answer.json()["effect"]
    assert "not surmountable" in answer.json()["effect"]
    await workflow_env.sleep(timedelta(minutes=5))
    assert [a for a in await actions(api, loan) if a["kind"] == "restructure_offer"] == []
