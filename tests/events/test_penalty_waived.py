"""A penalty waiver reaches the loan system (issue 16): the restructure plan a borrower accepts
forgives the 3.00 penalty, and `GET /v1/events` gives `penalty.waived` for exactly 3.00 and a
`restructure.accepted` that carries the new schedule, recorded with the moment that applied
them. Through the API on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR
from tests.events.test_events_api import _events_of
from tests.workflows.helpers import account_json, actions, business_today, sleep_until, start


async def test_an_accepted_restructure_books_its_penalty_waiver_and_new_schedule_as_events(
    api: httpx.AsyncClient, workflow_env: WorkflowEnvironment, worker: Worker
) -> None:
    loan = "L-EV-WAIVED"
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due)
    body["history"] = {"prior_delinquencies": 2, "ever_paid": True}
    await start(api, body)
    await sleep_until(workflow_env, due + timedelta(days=5), hour=12)
    offered = await api.post(
        f"/v1/accounts/{loan}/hardship",
        json={"cause": "job lost", "term": "long", "surmountable": True},
        headers=COLLECTOR,
    )
    assert "restructuring offered" in offered.json()["effect"], offered.text
    await workflow_env.sleep(timedelta(minutes=5))
    answer = await api.post(
        f"/v1/accounts/{loan}/restructure", json={"decision": "accept"}, headers=COLLECTOR
    )
    assert answer.status_code == 202, answer.text
    await workflow_env.sleep(timedelta(minutes=5))

    events = await _events_of(api, loan, "penalty.waived")
    [waived] = [e for e in events if e["type"] == "penalty.waived"]
    [accepted] = [e for e in events if e["type"] == "restructure.accepted"]
    assert waived["data"]["amount"] == "3.00" and waived["data"]["currency"] == "CNY"
    assert waived["data"]["reason"] == "restructure plan accepted"
    [action] = [a for a in await actions(api, loan) if a["kind"] == "restructure_accepted"]
    assert waived["at"] == action["at"]
    assert accepted["data"]["instalments"] == action["detail"]["instalments"]
    assert [i["amount"] for i in accepted["data"]["instalments"]] == ["200.00"] * 6
    assert accepted["data"]["waived"] == "3.00" and accepted["data"]["replaced"] == [7]
    assert accepted["id"] < waived["id"]
    assert len([e for e in events if e["type"] == "penalty.waived"]) == 1
