"""The book as the metrics see it at scrape time (issue 18 item 1): accounts by state and bucket,
people's tasks open and overdue by kind, messages to the loan system not yet delivered (the
event log, kind `event`; write-offs are events too since issue 16). Gauges
of the whole book read where the whole book is, the store, rather than summed up from counters
in N worker processes that restart; each is one indexed GROUP BY."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from store.engine import as_utc, session_scope
from store.events import delivery_lag
from store.models import AccountRow, TaskRow


@dataclass
class BookFigures:
    accounts: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, bucket)
    tasks_open: dict[str, int] = field(default_factory=dict)  # kind
    tasks_overdue: dict[str, int] = field(default_factory=dict)  # kind
    undelivered: dict[str, int] = field(default_factory=dict)  # message kind: event
    oldest_undelivered: datetime | None = None


def book_figures(database_url: str, now: datetime) -> BookFigures:
    """The figures as of `now` (the API's clock: a task is overdue once its window closed)."""
    figures = BookFigures()
    with session_scope(database_url) as session:
        for state, bucket, count in session.exec(
            select(AccountRow.state, AccountRow.bucket, func.count()).group_by(
                AccountRow.state, AccountRow.bucket
            )
        ).all():
            figures.accounts[(state, bucket)] = count
        open_tasks = TaskRow.status == "open"
        for kind, count in session.exec(
            select(TaskRow.kind, func.count()).where(open_tasks).group_by(TaskRow.kind)
        ).all():
            figures.tasks_open[kind] = count
        for kind, count in session.exec(
            select(TaskRow.kind, func.count())
            .where(open_tasks, TaskRow.not_after.is_not(None), TaskRow.not_after < now)  # type: ignore[union-attr,operator]
            .group_by(TaskRow.kind)
        ).all():
            figures.tasks_overdue[kind] = count
        # Events for the loan system (store/events.py) are messages to it too: kind "event".
        lag = delivery_lag(session)
        if lag.undelivered:
            figures.undelivered["event"] = lag.undelivered
        oldest = lag.oldest_undelivered_at
        figures.oldest_undelivered = as_utc(oldest) if oldest is not None else None
    return figures
