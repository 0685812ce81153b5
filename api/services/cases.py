"""Dispute and complaint cases for the JSON API and the desk (issue 17 item 7): reads from the
store (store/cases.py), decisions through the account's workflow (`case_evidence`,
`resolve_case` updates), so the desk and the API take one path and the store is written only by
`apply_moment`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client

from api.errors import ApiError
from api.services import paging
from api.services.episodes import update_account
from domain.cases import CaseKind, Resolution
from store.cases import CaseEvidenceRow, CaseRow, evidence_of, get_case, list_cases
from store.engine import as_utc, session_scope
from workflows.contracts import AccountUpdate
from workflows.contracts.cases import CaseAnswer, CaseEvidenceRequest, CaseResolution

LISTING = "cases"
PAGE = 50


class EvidenceView(BaseModel):
    """One piece of evidence, as added."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-12-08T03:00:00Z",
                    "added_by": "carol",
                    "text": "bank statement shows the fee debited twice",
                    "document": "DOC-77",
                }
            ]
        }
    )

    at: datetime
    added_by: str | None
    text: str
    document: str | None


class CaseView(BaseModel):
    """A dispute or complaint case: what, since when, by when, and how it ended."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "L-1001-5f2c9a1b-C12",
                    "loan_id": "L-1001",
                    "kind": "dispute",
                    "reason": "the borrower disputes the late fee",
                    "notes": None,
                    "opened_by": "alice",
                    "opened_at": "2026-12-06T02:00:00Z",
                    "deadline": "2027-01-05T02:00:00Z",
                    "timezone": "Asia/Shanghai",
                    "owner_queue": "supervisor",
                    "status": "open",
                    "overdue": False,
                    "escalated_at": None,
                    "resolved_at": None,
                    "resolved_by": None,
                    "resolution_notes": None,
                    "adjustment": None,
                    "balance_after": None,
                    "currency": None,
                    "evidence": [
                        {
                            "at": "2026-12-08T03:00:00Z",
                            "added_by": "carol",
                            "text": "bank statement shows the fee debited twice",
                            "document": "DOC-77",
                        }
                    ],
                }
            ]
        }
    )

    case_id: str
    loan_id: str
    kind: str
    reason: str
    notes: str | None
    opened_by: str | None
    opened_at: datetime
    deadline: datetime
    timezone: str | None = Field(description="the borrower's zone (the desk shows local times)")
    owner_queue: str
    status: str = Field(description="open | upheld | rejected")
    overdue: bool = Field(description="open past its deadline")
    escalated_at: datetime | None = Field(description="when it was escalated at its deadline")
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_notes: str | None
    adjustment: Decimal | None = Field(description="upheld: what came off the balance")
    balance_after: Decimal | None
    currency: str | None
    evidence: list[EvidenceView] | None = Field(
        default=None, description="the case's evidence, oldest first (the case read only)"
    )

    @classmethod
    def of(
        cls, row: CaseRow, now: datetime, evidence: list[CaseEvidenceRow] | None = None
    ) -> CaseView:
        deadline = as_utc(row.deadline)
        assert deadline is not None and row.opened_at is not None
        return cls(
            case_id=row.case_id,
            loan_id=row.loan_id,
            kind=row.kind,
            reason=row.reason,
            notes=row.notes,
            opened_by=row.opened_by,
            opened_at=as_utc(row.opened_at),
            deadline=deadline,
            timezone=row.timezone,
            owner_queue=row.owner_queue,
            status=row.status,
            overdue=row.status == "open" and deadline <= now,
            escalated_at=as_utc(row.escalated_at),
            resolved_at=as_utc(row.resolved_at),
            resolved_by=row.resolved_by,
            resolution_notes=row.resolution_notes,
            adjustment=row.adjustment,
            balance_after=row.balance_after,
            currency=row.currency,
            evidence=None
            if evidence is None
            else [
                EvidenceView(
                    at=as_utc(e.at),
                    added_by=e.added_by,
                    text=e.text,
                    document=e.document,
                )
                for e in evidence
            ],
        )


def cases_page(
    url: str,
    now: datetime,
    status: str | None,
    kind: CaseKind | None,
    cursor: str | None,
    loan_id: str | None = None,
    limit: int = PAGE,
) -> tuple[list[CaseView], str | None]:
    """One page of cases, soonest deadline first, and the next page's cursor (None: last)."""
    after = None
    if cursor is not None:
        position = paging.decode(LISTING, cursor)
        try:
            after = (datetime.fromisoformat(position["d"]), str(position["c"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(
                422,
                "invalid_input",
                "Invalid input — cursor: not a position of the case listing; send back the "
                f"{paging.NEXT_CURSOR_HEADER} of an earlier answer as is.",
                [{"loc": ["query", "cursor"], "msg": "not a position", "type": "cursor"}],
            ) from exc
    with session_scope(url) as session:
        rows = list(list_cases(session, status, kind, after, limit + 1, loan_id))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        deadline = as_utc(last.deadline)
        assert deadline is not None
        next_cursor = paging.encode(
            LISTING, {"d": deadline.replace(tzinfo=None).isoformat(), "c": last.case_id}
        )
    return [CaseView.of(r, now) for r in rows], next_cursor


def find_case(url: str, case_id: str, now: datetime) -> CaseView:
    """The case with its evidence, or 404."""
    with session_scope(url) as session:
        row = get_case(session, case_id)
        if row is None:
            raise ApiError(404, "not_found", f"No case {case_id}.")
        evidence = list(evidence_of(session, case_id))
    return CaseView.of(row, now, evidence)


async def add_evidence(
    client: Client, url: str, case_id: str, text: str, document: str | None, by: str, now: datetime
) -> CaseAnswer:
    """Evidence through the account's workflow (404 unknown case; 409 a resolved one)."""
    case = find_case(url, case_id, now)
    if case.status != "open":
        raise ApiError(409, "case_closed", f"Case {case_id} is {case.status}: it takes no more.")
    request = CaseEvidenceRequest(case_id=case_id, text=text, document=document, added_by=by)
    return await update_account(
        client, case.loan_id, AccountUpdate.CASE_EVIDENCE, request, "add evidence", CaseAnswer
    )


async def resolve_case(
    client: Client,
    url: str,
    case_id: str,
    resolution: Resolution,
    adjustment: Decimal | None,
    notes: str | None,
    by: str,
    now: datetime,
) -> CaseAnswer:
    """The decision through the account's workflow: 404 unknown case; 409 a case already
    resolved; 422 an adjustment that cannot be (above the balance, below zero, not to the
    cent, or on a rejection)."""
    case = find_case(url, case_id, now)
    if case.status != "open":
        raise ApiError(
            409,
            "case_closed",
            f"Case {case_id} was {case.status} already; it cannot be resolved again.",
        )
    request = CaseResolution(
        case_id=case_id, resolution=resolution, adjustment=adjustment, notes=notes, resolved_by=by
    )
    return await update_account(
        client, case.loan_id, AccountUpdate.RESOLVE_CASE, request, "resolve the case", CaseAnswer
    )


RECORDED_WAIT = 5.0
"""How long the desk waits for `apply_moment` to write what the workflow just decided, so the
page it shows next has it (the JSON API answers 202 at once)."""


async def until_recorded(
    url: str, case_id: str, now: datetime, evidence: int | None = None
) -> None:
    """Wait (bounded) until the store shows the case resolved, or with more than `evidence`
    entries; the page then reads its own write. Gives up quietly: the page shows what is there."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + RECORDED_WAIT
    while loop.time() < give_up:
        case = await asyncio.to_thread(find_case, url, case_id, now)
        if evidence is None and case.status != "open":
            return
        if evidence is not None and len(case.evidence or []) > evidence:
            return
        await asyncio.sleep(0.05)
