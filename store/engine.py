"""One SQLAlchemy engine per database URL, configured the same way for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def normalise_url(url: str) -> str:
    """Accept the short PostgreSQL spellings and always use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _prepare_sqlite_file(url: str) -> None:
    """SQLite cannot create the folder its file lives in; do it so a fresh checkout just works."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """A pooled engine; SQLite gets WAL (synchronous=NORMAL) and a busy timeout so API and worker
    can share the file."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # Under WAL, NORMAL syncs at checkpoints rather than at every commit (issue 19): a
            # commit stays atomic and the file consistent, and a process crash loses nothing;
            # only a power loss can take the last commits back. SQLite is the single-machine
            # store (dev, demo, simulator); production durability is PostgreSQL's.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the store only ever writes UTC instants."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
