"""The `letters` table: every PDF letter written for a borrower and the dispatch batch it went into.

A letter is keyed by the action that asked for it, (episode, seq), exactly like `actions`: the
unique constraint is what turns a retried or duplicated activity into a lookup instead of a second
letter. Paths are stored relative to ARREARS_DATA_DIR, because N workers sharing one PostgreSQL
store may mount the data folder at different places. `created_at` is the business instant of the
action (the workflow's clock), never the time the worker happened to render the file.

Workflows never import this module (see store/models.py); activities and the API do.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from domain.limits import LOAN_ID_LENGTH, NAME_LENGTH
from store.engine import as_utc, session_scope

__all__ = [
    "LETTER_STATUSES",
    "LetterRow",
    "find_letter",
    "letters_for_loan",
    "mark_dispatched",
    "record_letter",
]

# rendered: the PDF is on disk and recorded; dispatched: its line is in the daily batch file.
LETTER_STATUSES = ("rendered", "dispatched")


def _instant() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=False))


class LetterRow(SQLModel, table=True):
    """One letter: what was written, where the PDF is, and which mail batch carries it."""

    __tablename__ = "letters"
    __table_args__ = (UniqueConstraint("episode", "seq", name="uq_letters_episode_seq"),)

    letter_id: str = Field(primary_key=True, max_length=120)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    workflow_id: str = Field(max_length=100)
    episode: str = Field(max_length=64)
    seq: int
    kind: str = Field(max_length=40)
    locale: str = Field(max_length=20)
    path: str = Field(max_length=400, description="the PDF, relative to ARREARS_DATA_DIR")
    sha256: str = Field(max_length=64)
    pages: int
    addressee: str = Field(max_length=NAME_LENGTH)
    dispatch_date: date = Field(index=True, description="business date in the borrower's zone")
    batch_file: str = Field(max_length=400, description="relative to ARREARS_DATA_DIR")
    status: str = Field(default="rendered", max_length=20)
    created_at: datetime | None = _instant()


def _normalised(row: LetterRow | None) -> LetterRow | None:
    if row is not None:
        row.created_at = as_utc(row.created_at)
    return row


def find_letter(url: str, episode: str, seq: int) -> LetterRow | None:
    """The letter an action already produced, if any."""
    with session_scope(url) as session:
        row = session.exec(
            select(LetterRow).where(LetterRow.episode == episode, LetterRow.seq == seq)
        ).first()
        return _normalised(row)


def record_letter(url: str, row: LetterRow) -> LetterRow:
    """Insert the letter, or return the one a concurrent attempt of the same action inserted first.

    The database's unique constraint decides the race, so two workers executing the same activity
    at once (a Temporal retry after a timeout while the first attempt still runs) record one
    letter between them.
    """
    try:
        with session_scope(url) as session:
            session.add(row)
    except IntegrityError:
        existing = find_letter(url, row.episode, row.seq)
        if existing is None:  # the primary key, not (episode, seq), collided: a different action
            raise
        return existing
    return row


def mark_dispatched(url: str, letter_id: str) -> None:
    """Note that the letter's line is in its batch file (the file itself is the source of truth)."""
    with session_scope(url) as session:
        row = session.get(LetterRow, letter_id)
        if row is not None and row.status != "dispatched":
            row.status = "dispatched"
            session.add(row)


def letters_for_loan(session: Session, loan_id: str) -> list[LetterRow]:
    """A loan's letters in the order they were written, for collectors and auditors."""
    rows = session.exec(
        select(LetterRow)
        .where(LetterRow.loan_id == loan_id)
        .order_by(LetterRow.created_at, LetterRow.seq)  # type: ignore[arg-type]
    ).all()
    return [r for r in (_normalised(row) for row in rows) if r is not None]
