"""Outside collection agencies and legal cases (issue 6, "Agencies and legal"; issue 5).

The registry is the supervisor's: they add agencies with a commission rate and a capacity, and
they and the auditors see how loaded each agency is. An account's placements and legal cases,
with the case's status history, are read by everyone who works or checks accounts; the loan
system has no business there. Everything here reads or writes the store only — placements and
cases are made by the workflow's actions (activities/agencies.py, activities/legal.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Principal, Role, require
from api.deps import business_now, database_url
from api.errors import ApiError
from store import agencies as registry
from store import legal
from store.engine import as_utc, session_scope
from store.models import AccountRow

router = APIRouter(tags=["agencies and legal"])

REGISTRY_READERS = (Role.SUPERVISOR, Role.AUDITOR)
ACCOUNT_READERS = (Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR)


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["Huatai Recovery"])
    commission_rate: Decimal = Field(
        gt=0, lt=1, max_digits=6, decimal_places=5, description="a fraction, e.g. 0.18"
    )
    capacity: int = Field(ge=1, le=1_000_000, description="most accounts worked at one time")


class Agency(BaseModel):
    agency_id: str
    name: str
    commission_rate: Decimal
    capacity: int
    active: bool
    active_placements: int
    created_at: datetime | None


class Placement(BaseModel):
    placement_id: str
    loan_id: str
    agency_id: str
    agency: str
    commission_rate: Decimal
    currency: str
    amount_placed: Decimal
    placed_at: datetime | None
    period_end: datetime | None
    status: str
    recalled_at: datetime | None = None
    recall_reason: str | None = None
    action_seq: int


class CaseEvent(BaseModel):
    at: datetime | None
    status: str
    note: str


class LegalCase(BaseModel):
    case_id: str
    loan_id: str
    status: str
    opened_at: datetime | None
    updated_at: datetime | None
    closed_at: datetime | None = None
    amount_claimed: Decimal
    currency: str
    court: str | None = None
    notes: str | None = None
    action_seq: int
    history: list[CaseEvent]


def _agency_view(load: registry.AgencyLoad) -> Agency:
    row = load.agency
    return Agency(
        agency_id=row.agency_id,
        name=row.name,
        commission_rate=row.commission_rate,
        capacity=row.capacity,
        active=row.active,
        active_placements=load.active_placements,
        created_at=as_utc(row.created_at),
    )


@router.get(
    "/v1/agencies",
    summary="The agency registry, each agency with the number of accounts it works now",
    response_model=list[Agency],
)
async def list_agencies(
    request: Request, _who: Principal = Depends(require(*REGISTRY_READERS))
) -> list[Agency]:
    def read() -> list[Agency]:
        with session_scope(database_url(request)) as session:
            return [_agency_view(load) for load in registry.list_agencies(session)]

    return await asyncio.to_thread(read)


@router.post(
    "/v1/agencies",
    status_code=201,
    summary="Register an outside collection agency",
    description="`commission_rate` is a fraction strictly between 0 and 1; `capacity` at least "
    "1. A name already registered → 409.",
    response_model=Agency,
)
async def add_agency(
    body: AgencyIn,
    request: Request,
    _who: Principal = Depends(require(Role.SUPERVISOR)),
) -> Agency:
    at = await business_now(request)

    def write() -> Agency:
        with session_scope(database_url(request)) as session:
            row = registry.add_agency(session, body.name, body.commission_rate, body.capacity, at)
            return _agency_view(registry.AgencyLoad(row, 0))

    try:
        return await asyncio.to_thread(write)
    except registry.DuplicateAgency as exc:
        raise ApiError(409, "duplicate_agency", str(exc)) from exc
    except registry.InvalidAgency as exc:
        raise ApiError(422, "invalid_input", str(exc)) from exc


def _known(session: Session, loan_id: str, has_records: bool) -> bool:
    return has_records or session.get(AccountRow, loan_id) is not None


@router.get(
    "/v1/accounts/{loan_id}/placements",
    summary="The account's agency placements, oldest first",
    response_model=list[Placement],
)
async def list_placements(
    loan_id: str, request: Request, _who: Principal = Depends(require(*ACCOUNT_READERS))
) -> list[Placement]:
    def read() -> list[Placement] | None:
        with session_scope(database_url(request)) as session:
            rows = registry.placements_for_loan(session, loan_id)
            if not _known(session, loan_id, bool(rows)):
                return None
            names = {
                load.agency.agency_id: load.agency.name for load in registry.list_agencies(session)
            }
            return [
                Placement(
                    placement_id=r.placement_id,
                    loan_id=r.loan_id,
                    agency_id=r.agency_id,
                    agency=names.get(r.agency_id, r.agency_id),
                    commission_rate=r.commission_rate,
                    currency=r.currency,
                    amount_placed=r.amount_placed,
                    placed_at=r.placed_at,
                    period_end=r.period_end,
                    status=r.status,
                    recalled_at=r.recalled_at,
                    recall_reason=r.recall_reason,
                    action_seq=r.action_seq,
                )
                for r in rows
            ]

    placements = await asyncio.to_thread(read)
    if placements is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return placements


@router.get(
    "/v1/accounts/{loan_id}/legal-cases",
    summary="The account's legal cases, each with its status history",
    response_model=list[LegalCase],
)
async def list_legal_cases(
    loan_id: str, request: Request, _who: Principal = Depends(require(*ACCOUNT_READERS))
) -> list[LegalCase]:
    def read() -> list[LegalCase] | None:
        with session_scope(database_url(request)) as session:
            cases = legal.cases_for_loan(session, loan_id)
            if not _known(session, loan_id, bool(cases)):
                return None
            history = legal.events_by_case(session, [c.case_id for c in cases])
            return [
                LegalCase(
                    case_id=c.case_id,
                    loan_id=c.loan_id,
                    status=c.status,
                    opened_at=c.opened_at,
                    updated_at=c.updated_at,
                    closed_at=c.closed_at,
                    amount_claimed=c.amount_claimed,
                    currency=c.currency,
                    court=c.court,
                    notes=c.notes,
                    action_seq=c.action_seq,
                    history=[
                        CaseEvent(at=e.at, status=e.status, note=e.note) for e in history[c.case_id]
                    ],
                )
                for c in cases
            ]

    cases = await asyncio.to_thread(read)
    if cases is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return cases
