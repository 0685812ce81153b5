"""Dispute and complaint cases (issue 17 item 7; CONTRACT.md additions): the supervisors' queue
of open cases by deadline, one case with its evidence, evidence added, and the resolution.

Supervisors work cases (the owner queue); auditors read them; collectors and the loan system get
403. Opening a case stays `POST /v1/accounts/{id}/disputes` and `/complaints` (api/routes/holds.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import OversightDep, SupervisorDep, TemporalClientDep
from api.openapi import accepted
from api.services import paging
from api.services.cases import CaseView, add_evidence, cases_page, find_case, resolve_case
from api.state import business_now, database_url
from domain.cases import CaseKind, Resolution
from domain.money import Money

router = APIRouter(prefix="/v1/cases", tags=["cases"])


class EvidenceBody(BaseModel):
    """Evidence for an open case: what it shows, and optionally where the document is kept."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"text": "bank statement shows the fee debited twice", "document": None}]
        },
    )

    text: str = Field(min_length=1, max_length=4000)
    document: str | None = Field(
        default=None, min_length=1, max_length=500, description="a document reference"
    )


class ResolutionBody(BaseModel):
    """The decision: `upheld` with the adjustment taken off the balance (0.00 up to the
    balance, to the cent; default 0.00), or `rejected` (collection resumes)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"resolution": "upheld", "adjustment": "25.00", "notes": "fee reversed"}]
        },
    )

    resolution: Resolution
    adjustment: Money | None = Field(default=None, description="upheld only; ≥ 0.00")
    notes: str | None = Field(default=None, max_length=2000)


StatusParam = Annotated[
    Literal["open", "upheld", "rejected"] | None, Query(description="only cases in this status")
]
KindParam = Annotated[CaseKind | None, Query(description="dispute or complaint")]
CursorParam = Annotated[
    str | None, Query(max_length=400, description="X-Next-Cursor of the previous page")
]
LoanParam = Annotated[str | None, Query(max_length=64, description="one account's cases")]


@router.get(
    "",
    response_model=list[CaseView],
    summary="Dispute and complaint cases, soonest deadline first",
    description="The supervisors' queue of cases (`status=open`), with `overdue` for an open "
    "case past its deadline. Cursor pagination: `X-Next-Cursor` names the next page. Supervisors "
    "and auditors.",
)
async def get_cases(
    request: Request,
    response: Response,
    who: OversightDep,
    status: StatusParam = None,
    kind: KindParam = None,
    cursor: CursorParam = None,
    loan_id: LoanParam = None,
) -> list[CaseView]:
    now = await business_now(request)
    page, next_cursor = cases_page(database_url(request), now, status, kind, cursor, loan_id)
    paging.announce_next(request, response, next_cursor)
    return page


@router.get(
    "/{case_id}",
    response_model=CaseView,
    summary="One case with its evidence",
    description="Unknown case → 404. Supervisors and auditors.",
)
async def get_case(request: Request, case_id: str, who: OversightDep) -> CaseView:
    return find_case(database_url(request), case_id, await business_now(request))


@router.post(
    "/{case_id}/evidence",
    status_code=202,
    summary="Add evidence to an open case",
    description="Sent to the account's workflow (`case_evidence` update). Unknown case → 404; a "
    "resolved case → 409 `case_closed`. Supervisors.",
    responses=accepted({"accepted": True, "case": {"case_id": "L-1001-5f2c9a1b-C12"}}),
)
async def post_evidence(
    request: Request,
    case_id: str,
    body: EvidenceBody,
    who: SupervisorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    answer = await add_evidence(
        client,
        database_url(request),
        case_id,
        body.text,
        body.document,
        who.user,
        await business_now(request),
    )
    return {"accepted": True, "case": answer.model_dump(mode="json")}


@router.post(
    "/{case_id}/resolution",
    status_code=202,
    summary="Resolve a case: upheld (with an adjustment) or rejected",
    description="Sent to the account's workflow (`resolve_case` update). Upheld: the adjustment "
    "comes off the balance (`balance.adjusted`), the case's hold ends. Rejected: the hold ends and "
    "collection resumes where the ladder stands. Unknown case → 404; a resolved case → 409 "
    "`case_closed`; an adjustment above the balance, below zero, finer than a cent or on a "
    "rejection → 422. Supervisors.",
    responses=accepted(
        {
            "accepted": True,
            "case": {
                "case_id": "L-1001-5f2c9a1b-C12",
                "status": "upheld",
                "adjustment": "25.00",
                "balance": "1175.00",
            },
        }
    ),
)
async def post_resolution(
    request: Request,
    case_id: str,
    body: ResolutionBody,
    who: SupervisorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    answer = await resolve_case(
        client,
        database_url(request),
        case_id,
        body.resolution,
        Decimal(body.adjustment) if body.adjustment is not None else None,
        body.notes,
        who.user,
        await business_now(request),
    )
    return {"accepted": True, "case": answer.model_dump(mode="json")}
