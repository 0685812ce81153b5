"""An approved write-off reaches the loan system as a `write_off.approved` event (issue 16: the
old loan_system_outbox folded into the event log), on SQLite and PostgreSQL: the `post_write_off`
activity records it once per WriteOffWorkflow, is retry-safe, and refuses postings the loan
system must never see; migration 0013 drops the outbox table and carries its rows over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from sqlmodel import select
from temporalio.exceptions import ApplicationError

from activities.loan_system import INVALID_POSTING, LoanSystemActivities
from store.engine import as_utc, get_engine, session_scope
from store.events import EventRow, events_after
from workflows.write_off_messages import WriteOffPosting

AT = datetime(2027, 2, 3, 6, 30, tzinfo=UTC)
MIGRATIONS = Path(__file__).resolve().parents[2] / "store" / "migrations"


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


def events(url: str) -> list[EventRow]:
    with session_scope(url) as session:
        return list(session.exec(select(EventRow)).all())


def test_the_outbox_table_is_gone(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        assert "loan_system_outbox" not in inspect(connection).get_table_names()


def test_a_retried_posting_returns_the_same_reference_and_adds_one_event(
    database_url: str,
) -> None:
    activities = LoanSystemActivities(database_url)
    first = activities.post_write_off(posting())
    assert activities.post_write_off(posting()) == first
    other = activities.post_write_off(posting("write-off-L-1-2"))
    assert other != first

    stored = {e.key: e for e in events(database_url)}
    assert set(stored) == {"L-1:write_off:write-off-L-1-1", "L-1:write_off:write-off-L-1-2"}
    event = stored["L-1:write_off:write-off-L-1-1"]
    assert first == f"EVT-{event.id:08d}"
    assert event.type == "write_off.approved"
    # Business time, not the worker's clock, on both the event and its data; money to the cent.
    assert as_utc(event.at) == AT
    assert event.data["at"] == AT.isoformat()
    assert event.data["amount"] == "9876.54" and event.delivered_at is None
    # The loan system pages it like every other fact.
    with session_scope(database_url) as session:
        page = events_after(session, 0, 10)
    assert [e.key for e in page.items] == list(stored)


def test_concurrent_attempts_of_one_posting_agree_on_one_event(database_url: str) -> None:
    activities = LoanSystemActivities(database_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        references = list(pool.map(lambda _: activities.post_write_off(posting()), range(4)))
    assert len(set(references)) == 1
    assert len(events(database_url)) == 1


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
    assert events(database_url) == []


def test_the_migration_carries_an_outbox_row_without_its_event_into_the_event_log(
    tmp_path: Path,
) -> None:
    """A write-off posted before the event log existed (outbox row, no event) is an event after
    the upgrade; one that already had its event is not added twice."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0012")
    engine = create_engine(url)
    with engine.begin() as connection:
        for n, key in ((1, "write-off-L-9-1"), (2, "write-off-L-9-2")):
            connection.execute(
                text(
                    "INSERT INTO loan_system_outbox (id, loan_id, kind, idempotency_key, payload,"
                    " created_at) VALUES (:id, 'L-9', 'write_off', :key, :payload, :at)"
                ),
                {"id": n, "key": key, "payload": '{"amount": "10.00"}', "at": AT},
            )
        connection.execute(
            text(
                "INSERT INTO events (key, at, loan_id, type, data, attempts) VALUES "
                "('L-9:write_off:write-off-L-9-2', :at, 'L-9', 'write_off.approved', '{}', 0)"
            ),
            {"at": AT},
        )
    command.upgrade(config, "0013")
    with engine.connect() as connection:
        assert "loan_system_outbox" not in inspect(connection).get_table_names()
        rows = connection.execute(text("SELECT key, data FROM events ORDER BY id")).all()
    assert [r[0] for r in rows] == [
        "L-9:write_off:write-off-L-9-2",
        "L-9:write_off:write-off-L-9-1",
    ]
    assert '"10.00"' in rows[1][1] and "LSO-00000001" in rows[1][1]
    engine.dispose()
