"""Promises to pay (PLAYBOOK.md section 7) on the real AccountWorkflow: the ladder pauses while a
promise is open, a kept promise (within tolerance) leaves no mark, a broken one leaves a negative
credit record and the treatment resumes the next day; bad promises are refused before history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.models import PromiseRow
from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    chain_histories,
    instant_of,
    ladder,
    local_day_of,
    local_time_of,
    pay,
    promise,
    sleep_until,
    start,
    status,
    store_rows,
)


async def test_promise_kept_within_tolerance_pauses_all_contact_and_the_payment_cures(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loan = "L-PTP-KEPT"
    due = await business_today(workflow_env) + timedelta(days=2)
    # Two instalments: the balance (2400.00 + penalty) lets the promise exceed what is overdue.
    await start(api, account_json(loan, due, amounts=("1200.00", "1200.00"), gap_days=31))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    made = await promise(api, loan, "1228.00", due + timedelta(days=9))
    assert made.status_code == 201, made.text
    view = made.json()
    assert view["status"] == "open"
    assert view["deadline"] == (due + timedelta(days=10)).isoformat()
    promised_at = await workflow_env.get_current_time()
    assert (await status(api, loan))["promise"]["promise_id"] == view["promise_id"]

    # DPD 5 (call), 7 (letter) and 9 (call) pass while the promise is open.
    await sleep_until(workflow_env, due + timedelta(days=9), hour=20)
    open_status = await status(api, loan)
    assert open_status["promise"]["status"] == "open"
    assert open_status["next_action"]["kind"] == "promise_check"
    # 1200.00 + 9 days x 0.60 = 1205.40 overdue; 98% of 1228.00 is 1203.44, so this keeps it.
    assert Decimal(open_status["amount_overdue"]) == Decimal("1205.40")
    paid_at = await workflow_env.get_current_time()
    await pay(api, loan, "ptp-1", "1205.40", paid_at)
    await sleep_until(workflow_env, due + timedelta(days=12), hour=12)

    final = await status(api, loan)
    assert final["state"] == "cured"
    assert final["bucket"] == "current"
    assert Decimal(final["amount_overdue"]) == 0
    assert final["broken_promises"] == 0
    assert final["path"] == ["current", "M1", "current"]
    rows = store_rows(database_url, PromiseRow, loan)
    assert [(r["promise_id"], r["status"]) for r in rows] == [(view["promise_id"], "kept")]

    done = await actions(api, loan)
    assert [a for a in done if promised_at <= instant_of(a) <= paid_at] == []
    assert [a["detail"].get("step_id") for a in done] == ["pre_due_sms", "fe_sms_1", "fe_call_2"]
    assert "negative_credit_record" not in [a["kind"] for a in done]


async def test_broken_promise_records_negative_credit_and_treatment_resumes_the_day_after_deadline(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loan = "L-PTP-BROKEN"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    promised_date = due + timedelta(days=5)
    made = await promise(api, loan, "600.00", promised_date)
    assert made.status_code == 201, made.text
    view = made.json()
    deadline = promised_date + timedelta(days=1)  # grace_days 1
    assert view["deadline"] == deadline.isoformat()
    promised_at = await workflow_env.get_current_time()

    # 500.00 is less than 98% of 600.00: not enough to keep it.
    await sleep_until(workflow_env, promised_date, hour=12)
    await pay(api, loan, "part-1", "500.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, deadline, hour=23)
    still_open = await status(api, loan)
    assert still_open["promise"]["status"] == "open"
    assert still_open["broken_promises"] == 0

    await sleep_until(workflow_env, deadline + timedelta(days=1), hour=12)
    after = await status(api, loan)
    assert after["promise"] is None
    assert after["broken_promises"] == 1
    assert after["state"] == "delinquent"
    rows = store_rows(database_url, PromiseRow, loan)
    assert [(r["promise_id"], r["status"]) for r in rows] == [(view["promise_id"], "broken")]

    done = await actions(api, loan)
    negatives = [a for a in done if a["kind"] == "negative_credit_record"]
    assert len(negatives) == 1
    negative = negatives[0]
    assert negative["detail"]["promise_id"] == view["promise_id"]
    assert negative["detail"]["broken_promises"] == 1
    # Judged when the deadline day has ended: the first instant of the next local day.
    assert local_day_of(negative) == deadline + timedelta(days=1)
    assert local_time_of(negative) == (0, 0)

    steps = ladder(done)
    during = [a for a in steps if promised_at <= instant_of(a) < instant_of(negative)]
    assert during == []
    resumed = [a for a in steps if instant_of(a) > instant_of(negative)]
    # The treatment resumes the day after the deadline (DPD 7), inside the contact window.
    assert resumed, "the ladder did not resume after the broken promise"
    assert local_day_of(resumed[0]) == deadline + timedelta(days=1)
    assert local_time_of(resumed[0]) >= (8, 0)
    assert [a["detail"]["step_id"] for a in steps if instant_of(a) < promised_at] == [
        "pre_due_sms",
        "fe_sms_1",
        "fe_call_2",
    ]
    letter = next(a for a in resumed if a["detail"]["step_id"] == "fe_letter_7")
    assert local_day_of(letter) == due + timedelta(days=7)
    assert local_time_of(letter) == (10, 0)


async def test_promise_validation_refuses_bad_promises_with_422_and_wrong_state_with_409(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    pre_due_loan = "L-PTP-PREDUE"
    loan = "L-PTP-VALIDATE"
    today = await business_today(workflow_env)
    due = today + timedelta(days=2)
    await start(api, account_json(pre_due_loan, due + timedelta(days=5)))
    await start(api, account_json(loan, due))

    refused = await promise(api, pre_due_loan, "100.00", today + timedelta(days=1))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "not_allowed_in_state"

    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    today = await business_today(workflow_env)
    seen = await status(api, loan)
    # 1200.00 + 3 days x 0.60
    assert Decimal(seen["balance"]) == Decimal("1201.80")

    cases = [
        ("100.00", today - timedelta(days=1), 422, "invalid_promise"),
        ("100.00", today + timedelta(days=8), 422, "invalid_promise"),
        ("0", today + timedelta(days=1), 422, "invalid_input"),
        ("-5.00", today + timedelta(days=1), 422, "invalid_input"),
        ("1201.81", today + timedelta(days=1), 422, "invalid_promise"),
    ]
    for amount, promised_date, code, error in cases:
        response = await promise(api, loan, amount, promised_date)
        assert (response.status_code, response.json()["error"]["code"]) == (code, error), (
            amount,
            promised_date,
            response.text,
        )

    # The edges are allowed: today + 7 and the whole balance.
    accepted = await promise(api, loan, "1201.80", today + timedelta(days=7))
    assert accepted.status_code == 201, accepted.text
    # Refused promises never entered history: this is the episode's first promise.
    assert accepted.json()["promise_id"].endswith("-P1")

    second = await promise(api, loan, "100.00", today + timedelta(days=1), headers=COLLECTOR)
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "not_allowed_in_state"

    histories = await chain_histories(workflow_env, loan)
    accepted_updates = [
        e
        for h in histories
        for e in h.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted_updates) == 1
    assert (await status(api, loan))["promise"]["amount"] == "1201.80"
