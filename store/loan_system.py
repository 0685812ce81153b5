"""The outbox of messages to the loan system (today: approved write-offs).

A write-off is recorded here in the same transaction that decides its reference, and a separate
delivery process hands it to the loan system and sets `delivered_at`; so the workflow's activity
never depends on the loan system being up, and a retried activity finds its earlier row through
`idempotency_key` (the child workflow's id) instead of posting the write-off twice.

`created_at` and the payload's `at` are the workflow's business instant, passed in by the
activity; the store never reads a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.limits import LOAN_ID_LENGTH

WRITE_OFF = "write_off"


class LoanSystemOutboxRow(SQLModel, table=True):
    """One message for the loan system, written once per idempotency key."""

    __tablename__ = "loan_system_outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_loan_system_outbox_idempotency_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    kind: str = Field(max_length=20, description="write_off")
    idempotency_key: str = Field(max_length=120)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def reference_of(row: LoanSystemOutboxRow) -> str:
    """The reference the loan system and our auditors quote; stable for the row's life."""
    return f"LSO-{row.id:08d}"
