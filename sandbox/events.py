"""The loan system's side of the events webhook, in the sandbox (CONTRACT.md v1.1: "the sandbox
gateway gets a receiver that records what arrives"): `arrears up` points the delivery process
here, so a developer sees events flow with `GET /v1/sandbox/events`.

It checks every delivery's signature as a real receiver must (a bad one is 401 and not
recorded), keeps each event once by id (a redelivery is answered 200 and not recorded again), and
can be told to refuse a loan's next deliveries (`POST /v1/sandbox/events/refuse`) so tests and
demos can watch the backoff and see that other loans are not held up.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from activities.event_delivery import SIGNATURE_HEADER, verify_signature

__all__ = ["EventReceiver", "event_receiver_router"]


@dataclass
class EventReceiver:
    secret: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    refusals: Counter[str] = field(default_factory=Counter)  # loan id → deliveries to refuse
    refused: int = 0
    redelivered: int = 0


class Refuse(BaseModel):
    loan_id: str = Field(min_length=1)
    times: int = Field(ge=0, le=1000, description="how many of its next deliveries to refuse")


def event_receiver_router(receiver: EventReceiver) -> APIRouter:
    router = APIRouter(prefix="/v1/sandbox/events", tags=["sandbox events"])

    @router.post("")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if receiver.secret is None or not verify_signature(
            receiver.secret, body, request.headers.get(SIGNATURE_HEADER)
        ):
            return JSONResponse({"error": "bad or missing signature"}, status_code=401)
        event = json.loads(body)
        if receiver.refusals[event["loan_id"]] > 0:
            receiver.refusals[event["loan_id"]] -= 1
            receiver.refused += 1
            return JSONResponse({"error": "refused on request (sandbox)"}, status_code=503)
        if event["id"] in receiver.seen:
            receiver.redelivered += 1
            return JSONResponse({"status": "already received"})
        receiver.seen.add(event["id"])
        receiver.events.append(event)
        return JSONResponse({"status": "received"})

    @router.get("")
    async def received(loan_id: str | None = None) -> dict[str, Any]:
        items = [e for e in receiver.events if loan_id is None or e["loan_id"] == loan_id]
        return {
            "items": items,
            "refused": receiver.refused,
            "redelivered": receiver.redelivered,
        }

    @router.post("/refuse")
    async def refuse(request: Refuse) -> dict[str, Any]:
        receiver.refusals[request.loan_id] = request.times
        return {"loan_id": request.loan_id, "times": request.times}

    return router
