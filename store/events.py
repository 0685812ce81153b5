"""The event log: every business fact the loan system hears (CONTRACT.md v1.1 `GET /v1/events`,
the webhook), recorded once, in order.

An event is written in the same transaction as the moment that produced it, under a key the
fact itself decides (episode and sequence of its transition, the payment id, ...), so a retried
moment adds nothing twice. Its `id` is the order the loan system reads and is delivered in:

- PostgreSQL hands out sequence numbers when rows are inserted but makes them visible when
  their transactions commit, so a reader paging with `after=` could pass id 6 while id 5 was
  still uncommitted and never see 5. The writer therefore takes a transaction-scoped advisory
  lock just before it inserts events: ids are allocated in commit order, at the cost of
  serialising only the last step of moments that produce events.
- SQLite has one writer at a time already.

Delivery state (`delivered_at`, attempts, the next attempt) lives on the row; the delivery
process (activities/event_delivery.py) is the only writer of it. Instants are the workflow's
business clock (`at`) or the delivery process's own (delivery bookkeeping, not business).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, col, func, select

from domain.limits import LOAN_ID_LENGTH
from domain.vocabulary import EventType

__all__ = [
    "EventFact",
    "EventRow",
    "EventsPage",
    "delivery_lag",
    "events_after",
    "record_events",
]

# Any constant shared by every writer; the number spells "arrears events".
EVENTS_LOCK = 0x4152_5245_4556


class EventRow(SQLModel, table=True):
    """One business fact for the loan system."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("key", name="uq_events_key"),
        Index("ix_events_undelivered", "delivered_at", "loan_id", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    key: str = Field(max_length=200, description="what makes the fact one fact (idempotency)")
    at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    type: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    attempts: int = 0
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=400)


@dataclass(frozen=True)
class EventFact:
    """A fact as its producer states it, before it has an id."""

    key: str
    at: datetime
    loan_id: str
    type: EventType
    data: dict[str, Any]


def record_events(session: Session, facts: Sequence[EventFact]) -> int:
    """Insert the facts not yet recorded (by key), in order; the number inserted. Call it last
    in the moment's transaction: on PostgreSQL it holds the events lock until the commit."""
    if not facts:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": EVENTS_LOCK})
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = EventRow.__table__  # type: ignore[attr-defined]
    written = 0
    for fact in facts:  # one statement each: ids follow the facts' order
        statement = (
            insert(table)
            .values(
                key=fact.key,
                at=fact.at,
                loan_id=fact.loan_id,
                type=str(fact.type),
                data=fact.data,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.id)
        )
        written += session.execute(statement).first() is not None
    return written


@dataclass(frozen=True)
class EventsPage:
    items: list[EventRow]
    next_cursor: int | None


def events_after(session: Session, after: int, limit: int) -> EventsPage:
    """The events with ids above `after`, oldest first; `next_cursor` is the last id given,
    the `after` of the next call (None for an empty page: nothing new yet, ask again later)."""
    rows = list(
        session.exec(
            select(EventRow).where(col(EventRow.id) > after).order_by(col(EventRow.id)).limit(limit)
        ).all()
    )
    return EventsPage(items=rows, next_cursor=rows[-1].id if rows else None)


def event_exists(session: Session, event_id: int) -> bool:
    return session.get(EventRow, event_id) is not None


@dataclass(frozen=True)
class DeliveryLag:
    undelivered: int
    oldest_undelivered_at: datetime | None


def delivery_lag(session: Session) -> DeliveryLag:
    """How far delivery is behind: events not yet accepted by the loan system, and the business
    instant of the oldest."""
    count, oldest = session.exec(
        select(func.count(), func.min(EventRow.at)).where(col(EventRow.delivered_at).is_(None))
    ).one()
    return DeliveryLag(undelivered=int(count or 0), oldest_undelivered_at=oldest)
