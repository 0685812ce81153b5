"""Account search (CONTRACT.md v1.1 `GET /v1/accounts`), shared by the JSON route and the desk:
the store's `accounts` rows joined to the account directory (store/staff.py), filtered, in loan
id order, paged by an opaque keyset cursor.

`q` matches a loan id (exactly or by its beginning, case-insensitively), a borrower's name (any
part of it, casefolded) or, when it is four digits, the last four digits of one of their phones.
A collector sees the accounts they hold or nobody holds; supervisors and auditors see all.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_
from sqlmodel import col, select

from domain.money import quantize
from store.engine import as_utc, session_scope
from store.models import AccountRow
from store.staff import AccountDirectoryRow

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


_EXAMPLE: dict[str, Any] = {
    "loan_id": "L-1001",
    "borrower_id": "L-1001",
    "borrower_name": "Wang Fang",
    "state": "delinquent",
    "dpd": 3,
    "bucket": "M1",
    "stage": "front_end",
    "currency": "CNY",
    "amount_overdue": "1200.00",
    "balance": "2401.80",
    "holder": "alice",
    "timezone": "Asia/Shanghai",
    "updated_at": "2026-12-04T02:00:00Z",
}


class AccountSummary(BaseModel):
    """One account in a search answer: enough to pick it from a list (CONTRACT.md v1.1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    loan_id: str
    borrower_id: str | None = Field(default=None, description="the loan id when none was sent")
    borrower_name: str | None = Field(default=None, description="as the loan system sent it")
    state: str
    dpd: int
    bucket: str
    stage: str
    currency: str
    amount_overdue: Decimal
    balance: Decimal | None = Field(default=None, description="from the latest snapshot")
    holder: str | None = None
    timezone: str | None = Field(default=None, description="the borrower's zone")
    updated_at: datetime | None = None


class AccountPage(BaseModel):
    """A page of the search; `next_cursor` is None on the last page."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXAMPLE], "next_cursor": "eyJ2IjoxfQ"}]}
    )

    items: list[AccountSummary]
    next_cursor: str | None = None


class BadCursor(ValueError):
    """A cursor this API did not write (or one altered on the way)."""


@dataclass(frozen=True)
class AccountFilter:
    q: str | None = None
    state: str | None = None
    bucket: str | None = None
    stage: str | None = None
    holder: str | None = None
    borrower_id: str | None = None
    viewer: str | None = None
    """A collector's name: only accounts they hold or nobody holds."""


def encode_cursor(after: str) -> str:
    raw = json.dumps({"v": 1, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The loan id a page starts after; BadCursor for anything this API did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("the cursor is not one this API wrote") from exc
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("after"), str):
        raise BadCursor("the cursor is not one this API wrote")
    return str(data["after"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matches(q: str) -> Any:
    text = q.strip()
    pattern = _escape_like(text.casefold())
    conditions = [
        col(AccountRow.loan_id) == text,
        col(AccountRow.loan_id).ilike(f"{_escape_like(text)}%", escape="\\"),
        col(AccountDirectoryRow.name_key).like(f"%{pattern}%", escape="\\"),
    ]
    if len(text) == 4 and text.isdigit():
        conditions.append(col(AccountDirectoryRow.phone_endings).like(f"% {text} %"))
    return or_(*conditions)


def search_accounts(url: str, where: AccountFilter, after: str | None, limit: int) -> AccountPage:
    """One page of the accounts matching `where`, in loan id order, after the loan `after`."""
    query = select(AccountRow, AccountDirectoryRow).join(
        AccountDirectoryRow,
        col(AccountDirectoryRow.loan_id) == col(AccountRow.loan_id),
        isouter=True,
    )
    if where.q and where.q.strip():
        query = query.where(_matches(where.q))
    for column, value in (
        (AccountRow.state, where.state),
        (AccountRow.bucket, where.bucket),
        (AccountRow.stage, where.stage),
        (AccountRow.assignee, where.holder),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if where.borrower_id is not None:
        query = query.where(
            or_(
                col(AccountDirectoryRow.borrower_id) == where.borrower_id,
                # accounts started before the directory existed: the loan is its own borrower
                (col(AccountDirectoryRow.loan_id).is_(None))
                & (col(AccountRow.loan_id) == where.borrower_id),
            )
        )
    if where.viewer is not None:
        query = query.where(
            or_(col(AccountRow.assignee).is_(None), col(AccountRow.assignee) == where.viewer)
        )
    if after is not None:
        query = query.where(col(AccountRow.loan_id) > after)
    query = query.order_by(col(AccountRow.loan_id)).limit(limit + 1)
    with session_scope(url) as session:
        rows = session.exec(query).all()
    items = [_summary(account, entry) for account, entry in rows[:limit]]
    more = len(rows) > limit
    return AccountPage(items=items, next_cursor=encode_cursor(items[-1].loan_id) if more else None)


def _summary(account: AccountRow, entry: AccountDirectoryRow | None) -> AccountSummary:
    balance = (account.status or {}).get("balance")
    return AccountSummary(
        loan_id=account.loan_id,
        borrower_id=entry.borrower_id if entry else account.loan_id,
        borrower_name=entry.name if entry else None,
        state=account.state,
        dpd=account.dpd,
        bucket=account.bucket,
        stage=account.stage,
        currency=account.currency,
        amount_overdue=quantize(account.amount_overdue, account.currency),
        balance=quantize(Decimal(str(balance)), account.currency) if balance is not None else None,
        holder=account.assignee,
        timezone=account.timezone,
        updated_at=as_utc(account.updated_at),
    )
