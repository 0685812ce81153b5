"""Migration 0012 creates exactly the tables store/staff.py declares (the desk's users and the
account directory), on SQLite and PostgreSQL alike, and survives downgrade → upgrade."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from store.engine import get_engine
from store.migrate import alembic_config

NEW_TABLES = {"staff_users", "account_directory"}


def _differences(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return [d for d in differences if any(name in repr(d) for name in NEW_TABLES)]


def _migrate(url: str, target: str, downgrade: bool = False) -> None:
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, target)


def test_the_migration_matches_the_desk_tables_and_downgrades(database_url: str) -> None:
    assert set(inspect(get_engine(database_url)).get_table_names()) >= NEW_TABLES
    assert _differences(database_url) == []
    _migrate(database_url, "0011", downgrade=True)
    get_engine(database_url).dispose()
    assert not NEW_TABLES & set(inspect(get_engine(database_url)).get_table_names())
    _migrate(database_url, "head")
    get_engine(database_url).dispose()
    assert _differences(database_url) == []
