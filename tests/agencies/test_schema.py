"""Migration 0005 creates exactly the tables store/agencies.py and store/legal.py declare, on
SQLite and PostgreSQL alike, survives upgrade → downgrade → upgrade, and its keys are unique."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from store.engine import get_engine, session_scope
from store.legal import LegalCaseRow
from store.migrate import alembic_config
from tests.agencies.conftest import AT, EPISODE, add_agency, place

NEW_TABLES = {"agencies", "placements", "legal_cases", "legal_case_events"}


def _about_new_tables(diff: object) -> bool:
    text = repr(diff)
    return any(f"'{name}'" in text or f"{name}." in text for name in NEW_TABLES)


def _differences(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return [d for d in differences if _about_new_tables(d)]


def _migrate(url: str, target: str, downgrade: bool = False) -> None:
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, target)


def _tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def test_the_migration_matches_the_agency_and_legal_tables(database_url: str) -> None:
    assert _tables(database_url) >= NEW_TABLES
    assert _differences(database_url) == []


def test_the_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    _migrate(database_url, "0004", downgrade=True)
    get_engine(database_url).dispose()  # forget cached table metadata of the connections
    assert not NEW_TABLES & _tables(database_url)
    assert "tasks" in _tables(database_url)  # 0004's tables stay
    _migrate(database_url, "head")
    get_engine(database_url).dispose()
    assert _tables(database_url) >= NEW_TABLES
    assert _differences(database_url) == []
    add_agency(database_url, "Anhui Collect")  # the table works (and is empty again)


def test_one_placement_and_one_case_per_episode_and_action(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    placed = place(database_url, "L-1", seq=1)
    assert placed is not None

    def case(case_id: str) -> LegalCaseRow:
        return LegalCaseRow(
            case_id=case_id,
            loan_id="L-1",
            workflow_id="account-L-1",
            episode=EPISODE,
            action_seq=1,
            opened_at=AT,
            amount_claimed=Decimal("1"),
            updated_at=AT,
        )

    with session_scope(database_url) as session:
        session.add(case("LC-a"))
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(case("LC-b"))
