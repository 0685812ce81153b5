"""The desk's tables (issue 15): the staff who sign in to `/desk/` and the account directory the
search (`GET /v1/accounts?q=`) matches borrower names and phone endings in.

`staff_users` is the desk's local user store: a name, a role (the API's roles), an Argon2id hash
of the password (argon2-cffi; the plain password is never stored or logged) and the language the
person chose. `account_directory` is written by the API when an episode is started (the borrower
as the loan system sent them): the store's `accounts` rows carry no personal data, and the
workflow's input is encrypted in Temporal, so without it the desk could search by loan id only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel, select

from domain.limits import BORROWER_ID_LENGTH, LOAN_ID_LENGTH, NAME_LENGTH
from store.engine import session_scope

USERNAME_LENGTH = 80


class StaffUserRow(SQLModel, table=True):
    """A person who signs in to the desk; `role` is one of api.auth.Role's staff roles."""

    __tablename__ = "staff_users"

    username: str = Field(primary_key=True, max_length=USERNAME_LENGTH)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=200)
    locale: str | None = Field(default=None, max_length=10, description="the person's language")
    disabled: bool = False
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AccountDirectoryRow(SQLModel, table=True):
    """Who owes on a loan, as far as search needs it: the name folded for matching, the borrower
    id (the loan id when the loan system sent none) and the last four digits of each phone."""

    __tablename__ = "account_directory"

    loan_id: str = Field(primary_key=True, max_length=LOAN_ID_LENGTH)
    borrower_id: str = Field(max_length=BORROWER_ID_LENGTH, index=True)
    name: str = Field(max_length=NAME_LENGTH, description="the borrower's name as sent")
    name_key: str = Field(
        max_length=NAME_LENGTH, index=True, description="casefolded, for matching"
    )
    phone_endings: str = Field(
        default="", max_length=400, description="' 8000 1234 ': each phone's last four digits"
    )


def get_user(url: str, username: str) -> StaffUserRow | None:
    with session_scope(url) as session:
        return session.get(StaffUserRow, username)


def put_user(url: str, row: StaffUserRow) -> None:
    """Create the user, or replace their role and password (`arrears users add` again)."""
    with session_scope(url) as session:
        found = session.get(StaffUserRow, row.username)
        if found is None:
            session.add(row)
        else:
            found.role, found.password_hash = row.role, row.password_hash
            found.disabled = False
            session.add(found)


def set_locale(url: str, username: str, locale: str) -> None:
    with session_scope(url) as session:
        found = session.get(StaffUserRow, username)
        if found is not None:
            found.locale = locale
            session.add(found)


def list_users(url: str) -> list[StaffUserRow]:
    with session_scope(url) as session:
        return list(session.exec(select(StaffUserRow).order_by(StaffUserRow.username)).all())


def phone_endings(numbers: list[str]) -> str:
    """' 8000 1234 ': space-delimited so a search for one ending matches whole endings only."""
    endings = sorted({n[-4:] for n in numbers if len(n) >= 4})
    return f" {' '.join(endings)} " if endings else ""


def put_directory(url: str, row: AccountDirectoryRow) -> None:
    """Upsert the loan's entry (a repeated start carries the loan system's latest data)."""
    with session_scope(url) as session:
        found = session.get(AccountDirectoryRow, row.loan_id)
        if found is None:
            session.add(row)
            return
        found.borrower_id, found.name, found.name_key = row.borrower_id, row.name, row.name_key
        found.phone_endings = row.phone_endings
        session.add(found)
