"""The account's letters (issue 15): `GET /v1/accounts/{loan_id}/letters` lists what was
written (kind, language, pages, addressee, dispatch date, status) and
`GET /v1/accounts/{loan_id}/letters/{letter_id}.pdf` opens one, so the collector on the phone
and the auditor see the very document the borrower received. Reads the store and the data
directory only; the PDF's sha256 recorded when it was rendered is checked before it is served,
so a file changed on disk is refused (409) rather than shown as what was sent.

Readers as `/messages`: a collector on the accounts they hold or nobody holds, supervisors and
auditors on every account.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date, datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import AccountReaderDep, SettingsDep
from api.errors import ApiError
from api.services.access import collector_holds_account
from api.state import database_url
from store.engine import session_scope
from store.letters import LetterRow, letters_for_loan
from store.models import AccountRow

router = APIRouter(prefix="/v1/accounts", tags=["messages"])


class Letter(BaseModel):
    """One letter to the borrower, as rendered and dispatched."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "letter_id": "L-1001-4be1c2d0-12",
                    "kind": "demand_letter",
                    "locale": "zh-CN",
                    "pages": 1,
                    "addressee": "Wang Fang",
                    "dispatch_date": "2026-12-08",
                    "status": "dispatched",
                    "created_at": "2026-12-07T02:00:00Z",
                    "pdf": "/v1/accounts/L-1001/letters/L-1001-4be1c2d0-12.pdf",
                }
            ]
        }
    )

    letter_id: str
    kind: str
    locale: str
    pages: int
    addressee: str
    dispatch_date: date
    status: str
    created_at: datetime | None
    pdf: str


def _letter(row: LetterRow) -> Letter:
    return Letter(
        letter_id=row.letter_id,
        kind=row.kind,
        locale=row.locale,
        pages=row.pages,
        addressee=row.addressee,
        dispatch_date=row.dispatch_date,
        status=row.status,
        created_at=row.created_at,
        pdf=f"/v1/accounts/{row.loan_id}/letters/{row.letter_id}.pdf",
    )


def read_letters(url: str, loan_id: str) -> list[Letter] | None:
    """The loan's letters, oldest first; None for an unknown loan."""
    with session_scope(url) as session:
        rows = letters_for_loan(session, loan_id)
        if not rows and session.get(AccountRow, loan_id) is None:
            return None
        return [_letter(r) for r in rows]


@router.get(
    "/{loan_id}/letters",
    summary="The account's letters, oldest first",
    description="Each letter rendered for the account (kind, language, pages, addressee, "
    "dispatch date, status) with the path of its PDF. A collector reads the accounts they hold "
    "or nobody holds; supervisors and auditors every account. Unknown loan → 404.",
    response_model=list[Letter],
    dependencies=[Depends(collector_holds_account)],
)
async def list_letters(loan_id: str, request: Request, _who: AccountReaderDep) -> list[Letter]:
    found = await asyncio.to_thread(read_letters, database_url(request), loan_id)
    if found is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return found


def read_pdf(url: str, data_dir: Path, loan_id: str, letter_id: str) -> bytes:
    with session_scope(url) as session:
        row = session.get(LetterRow, letter_id)
    if row is None or row.loan_id != loan_id:
        raise ApiError(404, "not_found", f"No letter {letter_id} of account {loan_id} is known.")
    root = data_dir.resolve()
    path = (root / row.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, "not_found", f"The PDF of letter {letter_id} is not on disk.")
    body = path.read_bytes()
    if hashlib.sha256(body).hexdigest() != row.sha256:
        raise ApiError(
            409,
            "conflict",
            f"The PDF of letter {letter_id} on disk is not the one rendered (sha256 differs).",
        )
    return body


@router.get(
    "/{loan_id}/letters/{letter_id}.pdf",
    summary="One letter's PDF, as rendered",
    description="The PDF the letter channel rendered, checked against the sha256 recorded then. "
    "Unknown letter or file → 404; a file changed since → 409 `conflict`.",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF."}},
    dependencies=[Depends(collector_holds_account)],
)
async def letter_pdf(
    loan_id: str, letter_id: str, request: Request, settings: SettingsDep, _who: AccountReaderDep
) -> Response:
    url = database_url(request)
    body = await asyncio.to_thread(read_pdf, url, Path(settings.data_dir), loan_id, letter_id)
    headers = {"Content-Disposition": f'inline; filename="{letter_id}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)
