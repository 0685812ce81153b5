"""The borrower's situation reported outside a task (CONTRACT.md): hardship, and the answer to a
restructure offer. Both are updates whose validators refuse what cannot apply before it enters
history (no open offer → 409)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client

from api.auth import Principal, Role, require
from api.deps import business_now, require_temporal
from api.holds import update_account
from domain.outcomes import HardshipIn
from workflows.messages import HardshipRequest, RestructureAnswer

router = APIRouter(prefix="/v1/accounts", tags=["branches"])

COLLECTORS = (Role.COLLECTOR, Role.SUPERVISOR)


class RestructureDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "decline"]


@router.post(
    "/{loan_id}/hardship",
    status_code=202,
    summary="The borrower cannot pay: short term → grace; long term → restructuring if eligible",
)
async def post_hardship(
    loan_id: str,
    body: HardshipIn,
    who: Principal = Depends(require(*COLLECTORS)),
    client: Client = Depends(require_temporal),
) -> dict[str, Any]:
    request = HardshipRequest(hardship=body, recorded_by=who.user)
    result = await update_account(client, loan_id, "hardship", request, "record a hardship")
    return {"accepted": True, "loan_id": loan_id, **result}


@router.post(
    "/{loan_id}/restructure",
    status_code=202,
    summary="The borrower's answer to the open restructure offer",
    description="No open offer → 409.",
)
async def post_restructure(
    loan_id: str,
    body: RestructureDecision,
    request: Request,
    who: Principal = Depends(require(*COLLECTORS)),
    client: Client = Depends(require_temporal),
) -> dict[str, Any]:
    answer = RestructureAnswer(
        decision=body.decision, recorded_by=who.user, at=await business_now(request)
    )
    result = await update_account(
        client, loan_id, "restructure_answer", answer, "answer a restructure offer"
    )
    return {"accepted": True, "loan_id": loan_id, **result}
