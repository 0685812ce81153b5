"""Notes on an account (issue 15): what a collector or supervisor wrote down, by whom, when.

A note is not a business fact: it decides nothing, no rule reads it, and the account's workflow
never sees it. So it is the one thing the desk writes to the store without a workflow: the API
service adds the row (api/routes/notes.py) and the explained timeline reads it back as entries
of kind `note`. Rows are never edited or deleted: what was written stays on the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel, and_, col, or_, select

from domain.limits import LOAN_ID_LENGTH, NOTES_LENGTH
from store.engine import session_scope

AUTHOR_LENGTH = 80
"""As long as a desk user's or an API key's user name."""


class AccountNoteRow(SQLModel, table=True):
    """One note: the account, the text, who wrote it (and in which role), when."""

    __tablename__ = "account_notes"

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    text: str = Field(max_length=NOTES_LENGTH)
    author: str = Field(max_length=AUTHOR_LENGTH)
    role: str = Field(max_length=20, description="the author's role when they wrote it")
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def add_note(url: str, row: AccountNoteRow) -> AccountNoteRow:
    with session_scope(url) as session:
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def list_notes(
    url: str, loan_id: str, limit: int, before: tuple[datetime, int] | None = None
) -> list[AccountNoteRow]:
    """The account's notes newest first (the later-written first at one instant), at most
    `limit`, after the (created_at, id) of a page's last note when `before` is given."""
    query = select(AccountNoteRow).where(AccountNoteRow.loan_id == loan_id)
    if before is not None:
        at, row_id = before
        query = query.where(
            or_(
                col(AccountNoteRow.created_at) < at,
                and_(col(AccountNoteRow.created_at) == at, col(AccountNoteRow.id) < row_id),
            )
        )
    query = query.order_by(col(AccountNoteRow.created_at).desc(), col(AccountNoteRow.id).desc())
    with session_scope(url) as session:
        return list(session.exec(query.limit(limit)).all())
