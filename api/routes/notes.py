"""Notes on an account (issue 15, CONTRACT.md v1.1): `POST /v1/accounts/{loan_id}/notes` and
`GET /v1/accounts/{loan_id}/notes`.

A note is what a collector or supervisor wants the next person on the account to know ("says
she is abroad until the 20th"). It is not a business fact: no rule reads it and the workflow
never sees it, so unlike everything else a person does on an account it is not sent to the
account's workflow. The API writes it to the store itself (store/notes.py), and the explained
timeline shows it as an entry of kind `note`. Collectors note and read only the accounts they
hold or nobody holds (403 otherwise), as for messages.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import AccountReaderDep, CollectorDep
from api.errors import ApiError
from api.services import paging
from api.services.access import collector_holds_account
from api.state import business_now, database_url
from domain.limits import FORBIDDEN_CONTROL, NOTES_LENGTH
from store.engine import as_utc, session_scope
from store.models import AccountRow
from store.notes import AccountNoteRow, add_note, list_notes

router = APIRouter(
    prefix="/v1/accounts", tags=["notes"], dependencies=[Depends(collector_holds_account)]
)


class NoteIn(BaseModel):
    """What the person wrote: plain text, up to 2,000 characters, not blank."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"text": "Says she is abroad until the 20th."}]},
    )

    text: str = Field(min_length=1, max_length=NOTES_LENGTH)

    @field_validator("text")
    @classmethod
    def _printable(cls, text: str) -> str:
        if any(c in FORBIDDEN_CONTROL for c in text):
            raise ValueError("a note holds text: no control characters but tab and new lines")
        return text


class Note(BaseModel):
    """A note as the store keeps it: never edited, never deleted."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "note_id": 12,
                    "loan_id": "L-1001",
                    "text": "Says she is abroad until the 20th.",
                    "author": "alice",
                    "role": "collector",
                    "created_at": "2026-12-06T03:12:00Z",
                }
            ]
        }
    )

    note_id: int
    loan_id: str
    text: str
    author: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, row: AccountNoteRow) -> Note:
        assert row.id is not None
        return cls(
            note_id=row.id,
            loan_id=row.loan_id,
            text=row.text,
            author=row.author,
            role=row.role,
            created_at=as_utc(row.created_at) or row.created_at,
        )


def _known(url: str, loan_id: str) -> bool:
    with session_scope(url) as session:
        return session.get(AccountRow, loan_id) is not None


@router.post(
    "/{loan_id}/notes",
    status_code=201,
    summary="Write a note on the account",
    description="Kept in the store by the API (a note is not a business fact: the workflow "
    "never sees it), with the author and the business time; it shows in the account's notes "
    "and as a `note` entry of its timeline. Empty or over 2,000 characters → 422; a collector "
    "on an account someone else holds → 403; unknown loan → 404.",
    response_model=Note,
)
async def post_note(loan_id: str, body: NoteIn, request: Request, who: CollectorDep) -> Note:
    url = database_url(request)
    if not await asyncio.to_thread(_known, url, loan_id):
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    row = AccountNoteRow(
        loan_id=loan_id,
        text=body.text,
        author=who.user,
        role=who.role.value,
        created_at=await business_now(request),
    )
    return Note.of(await asyncio.to_thread(add_note, url, row))


@router.get(
    "/{loan_id}/notes",
    summary="The account's notes, newest first",
    description="Collectors read the accounts they hold or nobody holds; supervisors and "
    "auditors every account. More than `limit` → the next page's `cursor` in the "
    "`X-Next-Cursor` header (and `Link`), as for tasks, actions and messages. Unknown loan → "
    "404.",
    response_model=list[Note],
)
async def get_notes(
    *,
    loan_id: str,
    request: Request,
    response: Response,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=400, description="X-Next-Cursor of a page"),
    _who: AccountReaderDep,
) -> list[Note]:
    before = None
    if cursor is not None:
        data = paging.decode("notes", cursor)
        before = (paging.instant(data, "at"), paging.field(data, "id", int))
    url = database_url(request)
    rows = await asyncio.to_thread(list_notes, url, loan_id, limit + 1, before)
    if not rows and not await asyncio.to_thread(_known, url, loan_id):
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    notes = [Note.of(row) for row in rows]
    if len(notes) > limit:
        last = notes[limit - 1]
        position = {"at": last.created_at.isoformat(), "id": last.note_id}
        paging.announce_next(request, response, paging.encode("notes", position))
    return notes[:limit]
