"""GET /v1/sandbox/messages: what the sandbox gateway "sent" — the demo's and the supervisor's
window into SMS and calls when no Twilio credentials are set (CONTRACT.md).

With real Twilio configured there is no sandbox outbox to show, and pretending otherwise would
hide where the messages really went, so the endpoint says so (404) instead.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Query, Request

from api.deps import SettingsDep, SupervisorDep
from api.errors import ApiError

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


@router.get(
    "/messages",
    summary="The sandbox gateway's outbox (SMS and calls)",
    description="Supervisor only. Every SMS and call the sandbox gateway accepted, with its "
    "status and the status callbacks it delivered, plus the borrowers' replies (`inbound`) and "
    "the numbers that opted out (`opted_out`); `to` "
    "narrows to one number. 404 when real Twilio credentials are configured.",
    responses={
        200: {
            "description": "The sandbox outbox.",
            "content": {
                "application/json": {
                    "example": {
                        "messages": [
                            {
                                "sid": "SM0a1b2c3d",
                                "to": "+8613800138000",
                                "body": "【还款提醒】您的贷款将于2026-12-01到期，应还1200.00元。",
                                "status": "delivered",
                            }
                        ],
                        "calls": [],
                        "inbound": [],
                        "opted_out": [],
                    }
                }
            },
        }
    },
)
async def sandbox_messages(
    *,
    request: Request,
    to: str | None = Query(default=None, description="an E.164 number", max_length=32),
    _who: SupervisorDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    if settings.uses_twilio:
        raise ApiError(
            404,
            "sandbox_not_in_use",
            "Twilio credentials are configured (TWILIO_*): messages go to real Twilio, whose "
            "console shows them; there is no sandbox outbox.",
        )
    account_sid, token, _from = settings.twilio_account
    outbox = settings.sandbox_url.rstrip("/") + "/sandbox/outbox"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(
                outbox, params={"to": to} if to else None, auth=(account_sid, token)
            )
    except httpx.HTTPError as exc:
        raise ApiError(
            503,
            "sandbox_unreachable",
            f"The sandbox gateway at {settings.sandbox_url} does not answer: start it with "
            "`arrears sandbox` (`arrears up` starts it too).",
        ) from exc
    if response.status_code != 200:
        raise ApiError(
            502,
            "sandbox_error",
            f"The sandbox gateway answered {response.status_code}.",
            details=response.text[:500],
        )
    body: dict[str, Any] = response.json()
    return body
