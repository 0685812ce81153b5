"""Building accounts and driving episodes through the API on the time-skipping server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.calendar import local_date, local_instant
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM
from tests.started import STARTED

TZ = "Asia/Shanghai"


def account_json(
    loan_id: str,
    due: date,
    *,
    amounts: tuple[str, ...] = ("1200.00",),
    rate: str = "0.0005",
    segment: str = "standard",
    gap_days: int = 31,
) -> dict[str, Any]:
    instalments = [
        {
            "seq": 7 + i,
            "due_date": (due + timedelta(days=gap_days * i)).isoformat(),
            "amount": amount,
        }
        for i, amount in enumerate(amounts)
    ]
    return {
        "loan_id": loan_id,
        "borrower": {
            "name": "Wang Fang",
            "locale": "zh-CN",
            "timezone": TZ,
            "phones": [{"kind": "mobile", "number": "+8613800138000"}],
            "address": "1 Renmin Road, Shanghai",
            "consents": {"sms": True, "voice": True},
        },
        "contacts": [],
        "currency": "CNY",
        "instalments": instalments,
        "penalty_rate_daily": rate,
        "segment": segment,
        "history": {"prior_delinquencies": 0, "ever_paid": True},
    }


async def business_today(env: WorkflowEnvironment) -> date:
    return local_date(await env.get_current_time(), TZ)


async def sleep_until(env: WorkflowEnvironment, day: date, hour: int = 12) -> None:
    """Skip virtual time to `hour`:00 borrower-local on `day`."""
    from datetime import time

    target = local_instant(day, time(hour), TZ)
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


async def start(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    STARTED.append(body["loan_id"])
    response = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert response.status_code == 201, response.text
    return response.json()


async def pay(
    api: httpx.AsyncClient, loan_id: str, payment_id: str, amount: str, at: datetime
) -> None:
    response = await api.post(
        f"/v1/accounts/{loan_id}/payments",
        json={"payment_id": payment_id, "amount": amount, "paid_at": at.isoformat()},
        headers=LOAN_SYSTEM,
    )
    assert response.status_code == 202, response.text


async def status(api: httpx.AsyncClient, loan_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/accounts/{loan_id}", headers=LOAN_SYSTEM)
    assert response.status_code == 200, response.text
    return response.json()


async def actions(api: httpx.AsyncClient, loan_id: str) -> list[dict[str, Any]]:
    """The account's actions as an auditor reads them: phone numbers in full (the loan system
    sees them masked, issue 21 item 8)."""
    response = await api.get(f"/v1/accounts/{loan_id}/actions", headers=AUDITOR)
    assert response.status_code == 200, response.text
    return response.json()


def local_day_of(action: dict[str, Any]) -> date:
    """The borrower-local day an action (as listed by the API) was taken."""
    at = action["at"]
    instant = datetime.fromisoformat(at) if isinstance(at, str) else at
    return local_date(instant, TZ)


def ladder(actions_listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The actions that came from a strategy step (they carry a step_id)."""
    return [a for a in actions_listed if a["detail"].get("step_id")]


async def promise(
    api: httpx.AsyncClient,
    loan_id: str,
    amount: str,
    promised_date: date,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    from tests.conftest import COLLECTOR

    return await api.post(
        f"/v1/accounts/{loan_id}/promises",
        json={"amount": amount, "promised_date": promised_date.isoformat(), "pay_to": "ICBC"},
        headers=headers or COLLECTOR,
    )


async def chain_histories(env: WorkflowEnvironment, loan_id: str) -> list[Any]:
    """Every run's history of the account's workflow chain, oldest first (walks back from the
    current run through each run's `continued_execution_run_id`)."""
    from temporalio.client import WorkflowHistory

    workflow_id = f"account-{loan_id}"
    described = await env.client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = described.run_id
    histories: list[WorkflowHistory] = []
    while run_id:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return list(reversed(histories))


def store_rows(database_url: str, table: type[Any], loan_id: str) -> list[dict[str, Any]]:
    """The store's rows of one table for one account, as dicts (actions, payments, promises...)."""
    from sqlmodel import select

    from store.engine import session_scope

    with session_scope(database_url) as session:
        rows = session.exec(select(table).where(table.loan_id == loan_id)).all()
        return [row.model_dump() for row in rows]


def open_tasks(database_url: str, loan: str, kind: str = "call") -> list[dict[str, Any]]:
    """The account's open tasks of one kind from the store, in the order the workflow made them."""
    from store.models import TaskRow

    rows = store_rows(database_url, TaskRow, loan)
    return sorted(
        (t for t in rows if t["status"] == "open" and t["kind"] == kind),
        key=lambda t: t["action_seq"],
    )


async def post_outcome(
    api: httpx.AsyncClient, task_id: str, body: dict[str, Any], who: dict[str, str] = COLLECTOR
) -> httpx.Response:
    """A task's outcome as a person posts it; the answer, whatever it is."""
    return await api.post(f"/v1/tasks/{task_id}/outcome", json=body, headers=who)


async def work(
    api: httpx.AsyncClient, task_id: str, body: dict[str, Any], who: dict[str, str] = COLLECTOR
) -> dict[str, Any]:
    """A task's outcome that must be accepted; what the API answered."""
    answer = await post_outcome(api, task_id, body, who)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def local_time_of(action: dict[str, Any]) -> tuple[int, int]:
    """The borrower-local (hour, minute) an action was taken."""
    from domain.calendar import zone

    at = action["at"]
    instant = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = instant.astimezone(zone(TZ))
    return local.hour, local.minute


def instant_of(action: dict[str, Any]) -> datetime:
    at = action["at"]
    return datetime.fromisoformat(at) if isinstance(at, str) else at


async def signal_contact_event(
    env: WorkflowEnvironment, loan_id: str, kind: str, number: str, channel: str = "sms"
) -> datetime:
    """What our Twilio webhooks tell the workflow (a STOP reply: `consent_revoked`; a dead
    number: `number_dead`), sent straight to it at the current business time, which it returns."""
    at = await env.get_current_time()
    await env.client.get_workflow_handle(f"account-{loan_id}").signal(
        "contact_event",
        {"kind": kind, "channel": channel, "number": number, "at": at.isoformat()},
    )
    return at
