"""The loan-system outbox on SQLite and PostgreSQL: migration 0006 creates exactly the table the
code declares, one row per idempotency key, and the `post_write_off` activity is retry-safe and
refuses postings the loan system must never see."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from temporalio.exceptions import ApplicationError

from activities.loan_system import INVALID_POSTING, LoanSystemActivities
from store.engine import as_utc, get_engine, session_scope
from store.loan_system import LoanSystemOutboxRow
from workflows.write_off_messages import WriteOffPosting

AT = datetime(2027, 2, 3, 6, 30, tzinfo=UTC)


def posting(workflow_id: str = "write-off-L-1-1", **changes: object) -> WriteOffPosting:
    values: dict[str, object] = {
        "loan_id": "L-1",
        "workflow_id": workflow_id,
        "episode": "e1",
        "amount": Decimal("9876.54"),
        "currency": "CNY",
        "reason": "deceased",
        "verified_by": "vera",
        "approved_by": "sam",
        "at": AT,
    }
    values.update(changes)
    return WriteOffPosting.model_validate(values)


def rows(url: str) -> list[LoanSystemOutboxRow]:
    with session_scope(url) as session:
        return list(session.exec(select(LoanSystemOutboxRow)).all())


def test_the_migration_matches_the_outbox_table(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        columns = {c["name"] for c in inspect(connection).get_columns("loan_system_outbox")}
    assert [d for d in differences if "loan_system_outbox" in repr(d)] == []
    assert columns == {
        "id",
        "loan_id",
        "kind",
        "idempotency_key",
        "payload",
        "created_at",
        "delivered_at",
    }


def test_one_outbox_row_per_idempotency_key(database_url: str) -> None:
    def row(key: str) -> LoanSystemOutboxRow:
        return LoanSystemOutboxRow(
            loan_id="L-1", kind="write_off", idempotency_key=key, payload={}, created_at=AT
        )

    with session_scope(database_url) as session:
        session.add(row("write-off-L-1-1"))
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(row("write-off-L-1-1"))
    with session_scope(database_url) as session:
        session.add(row("write-off-L-1-2"))
    assert len(rows(database_url)) == 2


def test_a_retried_posting_returns_the_same_reference_and_adds_nothing(database_url: str) -> None:
    activities = LoanSystemActivities(database_url)
    first = activities.post_write_off(posting())
    assert activities.post_write_off(posting()) == first
    other = activities.post_write_off(posting("write-off-L-1-2"))
    assert other != first

    stored = {r.idempotency_key: r for r in rows(database_url)}
    assert set(stored) == {"write-off-L-1-1", "write-off-L-1-2"}
    row = stored["write-off-L-1-1"]
    # Business time, not the worker's clock, on both the row and its payload.
    assert as_utc(row.created_at) == AT
    assert row.payload["at"] == AT.isoformat()
    assert row.payload["amount"] == "9876.54" and row.delivered_at is None


def test_concurrent_attempts_of_one_posting_agree_on_one_row(database_url: str) -> None:
    activities = LoanSystemActivities(database_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        references = list(pool.map(lambda _: activities.post_write_off(posting()), range(4)))
    assert len(set(references)) == 1
    assert len(rows(database_url)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": Decimal("0")}, "positive"),
        ({"amount": Decimal("10.001")}, "decimal places"),
        ({"approved_by": "vera"}, "four-eyes"),
    ],
)
def test_a_posting_the_loan_system_would_refuse_is_not_retried(
    database_url: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        LoanSystemActivities(database_url).post_write_off(
            WriteOffPosting.model_validate({**posting().model_dump(), **changes})
        )
    assert refused.value.type == INVALID_POSTING and refused.value.non_retryable
    assert message in str(refused.value)
    assert rows(database_url) == []
