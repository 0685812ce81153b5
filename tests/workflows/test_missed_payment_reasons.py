"""PLAYBOOK.md section 2, the front end's first goal: "find out why the payment was missed (record
a reason code)" (issue 17 item 6), through the API on the time-skipping server. A call outcome
carries one of the strategy's reason codes; an unknown one is refused naming the codes allowed
and nothing is recorded; a known one is an action of its own and counts in the scoreboard."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import COLLECTOR, SUPERVISOR
from tests.workflows.helpers import TZ, actions
from tests.workflows.test_branches import first_call_task, work


async def test_the_reason_for_a_missed_payment_is_a_strategy_code_recorded_and_counted(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-REASON"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    path = f"/v1/tasks/{task['task_id']}/outcome"
    unknown = await api.post(
        path,
        json={"outcome": "paid_claimed", "missed_payment_reason": "bad_weather"},
        headers=COLLECTOR,
    )
    assert unknown.status_code == 422, unknown.text
    message = unknown.json()["error"]["message"]
    assert "bad_weather" in message
    for code in ("forgot", "short_of_cash", "lost_income", "illness", "other"):
        assert code in message
    assert not [a for a in await actions(api, loan) if a["kind"] == "missed_payment_reason"]

    await work(api, task["task_id"], {"outcome": "paid_claimed", "missed_payment_reason": "forgot"})
    await workflow_env.sleep(timedelta(minutes=1))
    [told] = [a for a in await actions(api, loan) if a["kind"] == "missed_payment_reason"]
    assert told["detail"]["code"] == "forgot"
    assert told["detail"]["reported_task"] == task["task_id"]
    assert told["detail"]["outcome"] == "paid_claimed" and told["detail"]["task_kind"] == "call"

    report = await api.get(
        "/v1/reports/operations",
        params={"from": due.isoformat(), "to": (due + timedelta(days=5)).isoformat(), "tz": TZ},
        headers=SUPERVISOR,
    )
    assert report.status_code == 200, report.text
    assert report.json()["missed_payment_reasons"] == {"forgot": 1}
