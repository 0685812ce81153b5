"""Outside collection agencies and legal cases (issue 6, "Agencies and legal"; issue 5).

The registry is the supervisor's: they add agencies with a commission rate and a capacity, and
they and the auditors see how loaded each agency is. An account's placements and legal cases,
with the case's status history, are read by everyone who works or checks accounts; the loan
system has no business there. Everything here reads or writes the store only — placements and
cases are made by the workflow's actions (activities/agencies.py, activities/legal.py).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Principal, Role, require
from api.deps import (
    AccountReaderDep,
    LoanSystemOrSupervisorDep,
    OversightDep,
    SupervisorDep,
    TemporalClientDep,
)
from api.errors import ApiError
from api.openapi import accepted
from api.services.episodes import update_account
from api.state import business_now, database_url
from domain.limits import REASON_LENGTH
from store import agencies as registry
from store import legal
from store.engine import as_utc, session_scope
from store.models import AccountRow
from workflows.contracts import (
    AccountUpdate,
    AgencyContact,
    AgencyContactsRequest,
    AgencyContactsResult,
    AgencyRecallRequest,
    AgencyRecallResult,
)

router = APIRouter(tags=["agencies and legal"])

LegalCaseReaderDep = Annotated[
    Principal, Depends(require(Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR, Role.LEGAL))
]
"""Who reads an account's legal cases: those who read its records, and the legal team."""
LegalStatusDep = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.LEGAL))]
"""Who reports a court's news about a case: the legal team, or a supervisor for them."""


class AgencyIn(BaseModel):
    """An outside collection agency to register."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"name": "Huatai Recovery", "commission_rate": "0.18", "capacity": 500}]
        },
    )

    name: str = Field(min_length=1, max_length=200, examples=["Huatai Recovery"])
    commission_rate: Decimal = Field(
        gt=0, lt=1, max_digits=6, decimal_places=5, description="a fraction, e.g. 0.18"
    )
    capacity: int = Field(ge=1, le=1_000_000, description="most accounts worked at one time")


class Agency(BaseModel):
    """A registered agency and how many accounts it works now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agency_id": "AG-3f2a91",
                    "name": "Huatai Recovery",
                    "commission_rate": "0.18",
                    "capacity": 500,
                    "active": True,
                    "active_placements": 42,
                    "created_at": "2026-10-01T08:00:00Z",
                }
            ]
        }
    )

    agency_id: str
    name: str
    commission_rate: Decimal
    capacity: int
    active: bool
    active_placements: int
    created_at: datetime | None


class Placement(BaseModel):
    """An account placed with an outside agency (OCA) for a period, or recalled."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "placement_id": "PL-L-1001-1",
                    "loan_id": "L-1001",
                    "agency_id": "AG-3f2a91",
                    "agency": "Huatai Recovery",
                    "commission_rate": "0.18",
                    "currency": "CNY",
                    "amount_placed": "2460.30",
                    "placed_at": "2027-01-05T02:00:00Z",
                    "period_end": "2027-04-05T02:00:00Z",
                    "status": "active",
                    "recalled_at": None,
                    "recall_reason": None,
                    "action_seq": 14,
                }
            ]
        }
    )

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
    """One step of a legal case's status history."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"at": "2027-05-02T02:00:00Z", "status": "filed", "note": "case opened"}]
        }
    )

    at: datetime | None
    status: str
    note: str


class LegalCase(BaseModel):
    """A legal case against the borrower, with its status history."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "LC-L-1001-1",
                    "loan_id": "L-1001",
                    "status": "filed",
                    "opened_at": "2027-05-02T02:00:00Z",
                    "updated_at": "2027-05-02T02:00:00Z",
                    "closed_at": None,
                    "amount_claimed": "2710.45",
                    "currency": "CNY",
                    "court": "Pudong New Area People's Court",
                    "notes": None,
                    "filed_on": "2027-05-06",
                    "case_number": "(2027)沪0115民初1234号",
                    "action_seq": 21,
                    "history": [
                        {"at": "2027-05-02T02:00:00Z", "status": "filed", "note": "case opened"}
                    ],
                }
            ]
        }
    )

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
    filed_on: date | None = Field(default=None, description="the day the court accepted it")
    case_number: str | None = Field(default=None, description="the court's case number")
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
    description="Supervisors and auditors. Every registered agency with its commission rate, "
    "capacity and the accounts placed with it now.",
    response_model=list[Agency],
)
async def list_agencies(request: Request, _who: OversightDep) -> list[Agency]:
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
    _who: SupervisorDep,
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
    description="Placements with outside collection agencies made by the workflow's OCA "
    "actions, and their recalls. Unknown loan → 404.",
    response_model=list[Placement],
)
async def list_placements(
    loan_id: str, request: Request, _who: AccountReaderDep
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
    description="Cases opened by the workflow's legal actions, each with every status it went "
    "through. Unknown loan → 404.",
    response_model=list[LegalCase],
)
async def list_legal_cases(
    loan_id: str, request: Request, _who: LegalCaseReaderDep
) -> list[LegalCase]:
    def read() -> list[LegalCase] | None:
        with session_scope(database_url(request)) as session:
            cases = legal.cases_for_loan(session, loan_id)
            if not _known(session, loan_id, bool(cases)):
                return None
            history = legal.events_by_case(session, [c.case_id for c in cases])
            return [_case_view(c, history[c.case_id]) for c in cases]

    cases = await asyncio.to_thread(read)
    if cases is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return cases


def _case_view(case: legal.LegalCaseRow, events: list[legal.LegalCaseEventRow]) -> LegalCase:
    return LegalCase(
        case_id=case.case_id,
        loan_id=case.loan_id,
        status=case.status,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        amount_claimed=case.amount_claimed,
        currency=case.currency,
        court=case.court,
        notes=case.notes,
        filed_on=case.filed_on,
        case_number=case.case_number,
        action_seq=case.action_seq,
        history=[CaseEvent(at=e.at, status=e.status, note=e.note) for e in events],
    )


class CaseStatusIn(BaseModel):
    """A court or lawyer's news about a case, as the legal team reports it."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"status": "hearing", "note": "first hearing 2027-03-02", "request_id": "LGL-77"}
            ]
        },
    )

    status: str = Field(
        description=f"one of {', '.join(legal.CASE_STATUSES)}; forward only, or closed",
        examples=["hearing"],
    )
    note: str = Field(default="", max_length=500, examples=["first hearing set for 2027-03-02"])
    request_id: str | None = Field(
        default=None,
        max_length=100,
        description="makes a retried request a no-op: the same id changes the case once",
    )
    filed_on: date | None = Field(
        default=None,
        description="the day the court accepted the suit (with `filed` or a later status)",
        examples=["2027-05-06"],
    )
    case_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the court's case number; once recorded it does not change",
        examples=["(2027)沪0115民初1234号"],
    )
    court: str | None = Field(default=None, min_length=1, max_length=200)


LEGAL_ERRORS: dict[type[legal.LegalError], tuple[int, str]] = {
    legal.UnknownCase: (404, "not_found"),
    legal.UnknownCaseStatus: (422, "validation_error"),
    legal.CaseStatusBackwards: (409, "case_status_backwards"),
    legal.CaseClosed: (409, "case_closed"),
    legal.CaseNumberConflict: (409, "conflict"),
    legal.InvalidFiling: (422, "invalid_input"),
}


@router.post(
    "/v1/legal-cases/{case_id}/status",
    summary="Record a legal case's new status (filed, hearing, judgment, enforcement, closed)",
    description="Forward only; `closed` from any status; a closed case takes no more updates "
    "(409). The account's own payment in full closes its case by itself. With `filed` or a "
    "later status the legal team reports the court's `filed_on`, `case_number` and `court` "
    "(issue 17 item 4); once recorded they do not change (409), and a filing date before the "
    "case opened or in the future is refused (422). The legal team or a supervisor.",
    response_model=LegalCase,
)
async def update_legal_case(
    case_id: str,
    body: CaseStatusIn,
    request: Request,
    who: LegalStatusDep,
) -> LegalCase:
    at = await business_now(request)
    key = f"api:{case_id}:{body.request_id}" if body.request_id else None
    note = body.note or f"{body.status} (reported by {who.user})"

    def write() -> LegalCase:
        with session_scope(database_url(request)) as session:
            case = legal.advance_case(
                session,
                case_id,
                body.status,
                at,
                note,
                key=key,
                filed_on=body.filed_on,
                case_number=body.case_number,
                court=body.court,
            )
            return _case_view(case, legal.case_events(session, case_id))

    try:
        return await asyncio.to_thread(write)
    except legal.LegalError as exc:
        status, code = LEGAL_ERRORS.get(type(exc), (409, "conflict"))
        raise ApiError(status, code, str(exc)) from exc


class RecallIn(BaseModel):
    """Why a supervisor takes the account back from its agency before the period ends."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "agency not working the account"}]},
    )

    reason: str = Field(
        min_length=1, max_length=REASON_LENGTH, examples=["agency not working the account"]
    )


@router.post(
    "/v1/accounts/{loan_id}/agency-recall",
    status_code=202,
    summary="Take the account back from its agency before the placement period ends",
    description="An `oca_recall` action; the account is then re-placed with a secondary agency "
    "or, after the strategy's last agency, sent to legal. Not placed → 409 `not_placed`.",
    responses=accepted(
        {
            "accepted": True,
            "loan_id": "L-1001",
            "recalled_from": "AG-3f1c2b9a7d10",
            "placement_id": "PL-L-1001-3f6c7938-12",
        }
    ),
)
async def recall_from_agency(
    loan_id: str,
    body: RecallIn,
    who: SupervisorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    update = AgencyRecallRequest(reason=body.reason, requested_by=who.user)
    result = await update_account(
        client, loan_id, AccountUpdate.RECALL_AGENCY, update, "recall it", AgencyRecallResult
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}


class AgencyContactsIn(BaseModel):
    """The agencies' contacts with one borrower, from their daily contact files."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contacts": [
                        {
                            "contact_id": "HT-20261205-000731",
                            "agency_id": "AG-3f2a91",
                            "at": "2026-12-05T02:15:00Z",
                            "channel": "call",
                            "number": "+8613800138000",
                            "result": "connected",
                        }
                    ]
                }
            ]
        },
    )

    contacts: list[AgencyContact] = Field(min_length=1, max_length=500)


@router.post(
    "/v1/accounts/{loan_id}/agency-contacts",
    status_code=202,
    summary="Contacts an outside agency made with the borrower (its daily contact file)",
    description="The bank's systems relay each agency's contact file. The contacts join the "
    "account's contact ledger with actor `agency` (the `agency_contacts` update), so the "
    "frequency caps count our collectors and the agencies together (e.g. cn: at most 3 connected "
    "calls per borrower per day). `channel` call, sms, field_visit or letter; `result` connected, "
    "unanswered or failed for a call, sent or failed for an SMS or letter, visited or not_met for "
    "a visit; `number` (E.164) required for a call or SMS. The same (agency_id, contact_id) "
    "counts once. A contact later than the business time → 422; unknown loan → 404; a closed "
    "account → 409.",
    responses=accepted({"accepted": True, "loan_id": "L-1001", "recorded": 3, "duplicates": 0}),
)
async def post_agency_contacts(
    loan_id: str,
    body: AgencyContactsIn,
    request: Request,
    who: LoanSystemOrSupervisorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    now = await business_now(request)
    future = [
        {"loc": ["body", "contacts", i, "at"], "msg": f"{c.at.isoformat()} is after {now}"}
        for i, c in enumerate(body.contacts)
        if c.at > now
    ]
    if future:
        raise ApiError(
            422,
            "invalid_input",
            f"{len(future)} contact(s) lie in the future of the business time "
            f"{now.isoformat()}: a contact is reported after it happened.",
            future,
        )
    update = AgencyContactsRequest(contacts=body.contacts, reported_by=who.user)
    result = await update_account(
        client,
        loan_id,
        AccountUpdate.AGENCY_CONTACTS,
        update,
        "record agency contacts",
        AgencyContactsResult,
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}
