"""Insert a row unless its natural key is already there, in one statement.

`INSERT ... ON CONFLICT (key) DO NOTHING` through SQLAlchemy's SQLite and PostgreSQL dialect
inserts: a retried activity's rows are skipped by the database on the key the workflow gave them,
instead of an ORM select before every insert (issue 19: one round trip per row, not two, and no
read-then-write race between two attempts of the same activity).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, SQLModel

__all__ = ["insert_if_new"]


def insert_if_new(session: Session, row: SQLModel, *key: str) -> bool:
    """Insert `row` in the session's transaction unless a row with the same values in the
    columns `key` (a unique constraint of its table) exists; True when it was inserted.

    Columns the row leaves None and the database generates (an autoincrement id) are left out;
    everything else is bound through the columns' own types (JSON, money), as the ORM would."""
    table: Table = row.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    for attribute in inspect(type(row)).column_attrs:
        column = attribute.columns[0]
        value = getattr(row, attribute.key)
        if value is None and column.primary_key:
            continue
        values[column.name] = value
    statement = _statement(session.get_bind().dialect.name, table, key)
    result: CursorResult[Any] = session.exec(statement, params=values)
    return result.first() is not None


@lru_cache(maxsize=64)
def _statement(dialect: str, table: Table, key: tuple[str, ...]) -> Any:
    """One statement per table and key, its values bound per call: building the statement with
    the values in it cost more CPU than the insert (measured, issue 19). RETURNING, not the
    rowcount, says whether a row went in: with RETURNING (which SQLAlchemy adds for the
    generated id on PostgreSQL) psycopg reports no rowcount."""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    return statement.on_conflict_do_nothing(index_elements=list(key)).returning(
        *table.primary_key.columns
    )
