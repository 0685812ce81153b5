"""The borrower's situation reported outside a task (CONTRACT.md): hardship, and the answer to a
restructure offer. Both are updates whose validators refuse what cannot apply before it enters
history (no open offer → 409)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import CollectorDep, TemporalClientDep
from api.openapi import accepted
from api.services.access import collector_holds_account
from api.services.episodes import update_account
from api.state import business_now
from domain.account import PhoneNumber
from domain.outcomes import HardshipIn
from workflows.contracts import (
    AccountUpdate,
    HardshipRequest,
    HardshipResult,
    RestructureAnswer,
    RestructureAnswerResult,
)

router = APIRouter(
    prefix="/v1/accounts", tags=["branches"], dependencies=[Depends(collector_holds_account)]
)


class PhoneConversation(BaseModel):
    """Said on the phone: `conversation: true` records a right-party telephone conversation at
    this instant in the contact ledger, so Regulation F's 7-day pause on calls starts from it
    (the conversation day is day 1), as it does after a call task's connected outcome."""

    conversation: bool = Field(
        default=False, description="told us in a telephone conversation with the borrower"
    )
    number: PhoneNumber | None = Field(
        default=None,
        description="the number the conversation was on (E.164; default the borrower's first "
        "live number); only with conversation",
    )

    @model_validator(mode="after")
    def _number_only_with_a_conversation(self) -> PhoneConversation:
        if self.number is not None and not self.conversation:
            raise ValueError("number names the phone of a conversation: send conversation: true")
        return self


class HardshipBody(HardshipIn, PhoneConversation):
    """A hardship the borrower reported, perhaps on the phone."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cause": "lost job in November",
                    "term": "short",
                    "surmountable": True,
                    "notes": "starts a new job on 2026-12-15",
                    "conversation": True,
                }
            ]
        }
    )


class RestructureDecision(PhoneConversation):
    """The borrower's answer to the open restructure offer."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "accept"}]}
    )

    decision: Literal["accept", "decline"]


@router.post(
    "/{loan_id}/hardship",
    status_code=202,
    summary="The borrower cannot pay: short term → grace; long term → restructuring if eligible",
    description="The `hardship` update (playbook section 9): a short-term, surmountable cause "
    "gives a grace period; a long-term one leads to a restructure offer when the account is "
    "eligible. `effect` says what the workflow did. Unknown loan → 404; a closed account → 409.",
    responses=accepted({"accepted": True, "loan_id": "L-1001", "effect": "grace until 2026-12-20"}),
)
async def post_hardship(
    loan_id: str,
    body: HardshipBody,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    request = HardshipRequest(
        hardship=HardshipIn.model_validate(body.model_dump(exclude={"conversation", "number"})),
        recorded_by=who.user,
        conversation=body.conversation,
        number=body.number,
    )
    result = await update_account(
        client, loan_id, AccountUpdate.HARDSHIP, request, "record a hardship", HardshipResult
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}


@router.post(
    "/{loan_id}/restructure",
    status_code=202,
    summary="The borrower's answer to the open restructure offer",
    description="Passed to the DebtRestructureWorkflow child (update `restructure_answer`). No "
    "open offer → 409; unknown loan → 404.",
    responses=accepted(
        {
            "accepted": True,
            "loan_id": "L-1001",
            "decision": "accept",
            "offer": "restructure-L-1001-1",
        }
    ),
)
async def post_restructure(
    loan_id: str,
    body: RestructureDecision,
    request: Request,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    answer = RestructureAnswer(
        decision=body.decision,
        recorded_by=who.user,
        at=await business_now(request),
        conversation=body.conversation,
        number=body.number,
    )
    result = await update_account(
        client,
        loan_id,
        AccountUpdate.RESTRUCTURE_ANSWER,
        answer,
        "answer a restructure offer",
        RestructureAnswerResult,
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}
