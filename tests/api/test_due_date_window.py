"""A due date no loan system sends is a 422 at the door (issue 21, items 2 and 3): a schedule in
1900 once started a lawsuit at once, and one in 9999 froze the account for good."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import LOAN_SYSTEM
from tests.workflows.helpers import account_json, business_today


@pytest.mark.parametrize(
    ("due", "says"),
    [
        ("1900-01-01", "greater than or equal to 2000-01-01"),
        ("9999-12-31", "less than or equal to 2099-12-31"),
    ],
)
async def test_a_due_date_no_schedule_can_hold_is_refused_whatever_the_day(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, due: str, says: str
) -> None:
    body = account_json("L-DUE-ODD", await business_today(workflow_env))
    body["instalments"][0]["due_date"] = due
    answer = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert answer.status_code == 422, answer.text
    assert says in answer.text
    changed = {"instalments": [{"seq": 9, "due_date": due, "amount": "10.00"}]}
    answer = await api.post("/v1/accounts/L-ANY/instalments", json=changed, headers=LOAN_SYSTEM)
    assert answer.status_code == 422, answer.text


async def test_due_dates_outside_the_strategys_window_are_refused_and_nothing_starts(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient
) -> None:
    today = await business_today(workflow_env)
    for loan, due, says in [
        ("L-DUE-PAST", today - timedelta(days=181), "charge-off horizon"),
        ("L-DUE-AHEAD", today + timedelta(days=367), "366 days after today"),
        ("L-DUE-LATE", today - timedelta(days=45), "migration"),
    ]:
        answer = await api.post("/v1/accounts", json=account_json(loan, due), headers=LOAN_SYSTEM)
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["error"]["message"]
        assert (await api.get(f"/v1/accounts/{loan}", headers=LOAN_SYSTEM)).status_code == 404
