"""Building accounts and driving episodes through the API on the time-skipping server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.calendar import local_date, local_instant
from tests.conftest import LOAN_SYSTEM

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
    response = await api.get(f"/v1/accounts/{loan_id}/actions", headers=LOAN_SYSTEM)
    assert response.status_code == 200, response.text
    return response.json()
