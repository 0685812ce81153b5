"""The event log (store/events.py) on SQLite and PostgreSQL: the migration matches the model,
a fact is recorded once by its key, ids follow commit order (a reader paging with `after` never
passes an id that commits later), and pages never repeat an event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from domain.vocabulary import EventType
from store.engine import get_engine, session_scope
from store.events import EventFact, delivery_lag, events_after, record_events

AT = datetime(2026, 3, 21, 4, 0, tzinfo=UTC)


def _fact(key: str, loan: str = "L-1", at: datetime = AT) -> EventFact:
    return EventFact(key=key, at=at, loan_id=loan, type=EventType.PAYMENT_APPLIED, data={"k": key})


def test_the_migration_matches_the_event_log_model(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in differences if "events" in repr(d)] == []


def test_a_fact_is_recorded_once_however_often_its_moment_is_retried(database_url: str) -> None:
    with session_scope(database_url) as session:
        assert record_events(session, [_fact("a"), _fact("b")]) == 2
    with session_scope(database_url) as session:
        assert record_events(session, [_fact("a"), _fact("b"), _fact("c")]) == 1
    with session_scope(database_url) as session:
        page = events_after(session, 0, 10)
    assert [e.key for e in page.items] == ["a", "b", "c"]
    ids = [e.id or 0 for e in page.items]
    assert ids == sorted(ids)


def test_pages_follow_each_other_without_repeating_or_skipping(database_url: str) -> None:
    with session_scope(database_url) as session:
        record_events(session, [_fact(f"k{i:02d}") for i in range(25)])
    seen: list[str] = []
    after = 0
    while True:
        with session_scope(database_url) as session:
            page = events_after(session, after, 10)
        if not page.items:
            assert page.next_cursor is None
            break
        seen += [e.key for e in page.items]
        assert page.next_cursor is not None
        after = page.next_cursor
    assert seen == [f"k{i:02d}" for i in range(25)]


def test_ids_follow_commit_order_so_a_reader_never_passes_a_later_commit(
    database_url: str,
) -> None:
    """Moment A records its events and is slow to commit; moment B records events meanwhile.
    B waits for A (the events lock; SQLite's single writer), so A's ids are below B's and a
    reader that saw B's ids cannot have missed A's."""
    a_recorded, b_done = threading.Event(), threading.Event()

    def moment_b() -> None:
        a_recorded.wait(10)
        with session_scope(database_url) as session:
            record_events(session, [_fact("b", loan="L-2")])
        b_done.set()

    thread = threading.Thread(target=moment_b)
    thread.start()
    with session_scope(database_url) as session:
        record_events(session, [_fact("a", loan="L-1")])
        a_recorded.set()
        time.sleep(0.5)
        assert not b_done.is_set(), "B recorded its events while A held the log"
    thread.join(30)
    with session_scope(database_url) as session:
        ids = {e.key: e.id for e in events_after(session, 0, 10).items}
    assert ids["a"] < ids["b"]  # type: ignore[operator]


def test_the_lag_counts_what_the_loan_system_has_not_accepted(database_url: str) -> None:
    with session_scope(database_url) as session:
        record_events(session, [_fact("x", at=AT), _fact("y", at=AT + timedelta(hours=1))])
    with session_scope(database_url) as session:
        lag = delivery_lag(session)
    assert lag.undelivered == 2
    assert lag.oldest_undelivered_at is not None
