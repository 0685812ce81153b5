"""The arm_assignments table: migration 0008 matches the model on SQLite and PostgreSQL, survives
downgrade and upgrade, and a loan's arm is recorded once per experiment; facts carry the arm
their loan was in at that instant."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from store.engine import get_engine
from store.migrate import alembic_config
from store.reports import assignments, load_facts, record_assignment
from tests.reports.conftest import add_transitions, at


def _differences(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return [d for d in differences if "arm_assignments" in repr(d)]


def _migrate(url: str, target: str, downgrade: bool = False) -> None:
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, target)


def test_migration_0008_creates_exactly_the_arm_assignments_model(database_url: str) -> None:
    assert "arm_assignments" in inspect(get_engine(database_url)).get_table_names()
    assert _differences(database_url) == []


def test_migration_0008_downgrades_and_upgrades_again(database_url: str) -> None:
    _migrate(database_url, "0007", downgrade=True)
    get_engine(database_url).dispose()
    assert "arm_assignments" not in inspect(get_engine(database_url)).get_table_names()
    _migrate(database_url, "head")
    get_engine(database_url).dispose()
    assert _differences(database_url) == []


def test_an_arm_is_recorded_once_per_loan_and_experiment_and_never_changed(
    database_url: str,
) -> None:
    first = record_assignment(
        database_url,
        loan_id="L-1",
        experiment="default@1:front_light@1",
        arm="challenger",
        strategy_ref="front_light@1",
        at=at("2026-12-01"),
    )
    again = record_assignment(
        database_url,
        loan_id="L-1",
        experiment="default@1:front_light@1",
        arm="champion",  # a different answer must not overwrite the first
        strategy_ref="default@1",
        at=at("2026-12-05"),
    )
    assert again == first
    assert first.arm == "challenger" and first.assigned_at == at("2026-12-01")
    other = record_assignment(
        database_url,
        loan_id="L-1",
        experiment="default@2:front_light@1",
        arm="champion",
        strategy_ref="default@2",
        at=at("2027-03-01"),
    )
    assert [a.experiment for a in assignments(database_url, "L-1")] == [
        first.experiment,
        other.experiment,
    ]


def test_a_fact_carries_the_arm_of_the_latest_assignment_made_by_its_instant(
    database_url: str,
) -> None:
    add_transitions(
        database_url,
        "L-1",
        ("2026-11-20", "delinquent", "M1"),
        ("2026-12-20", "cured", "current"),
        ("2027-03-20", "delinquent", "M1"),
    )
    for experiment, arm, day in (
        ("x:y", "challenger", "2026-12-01"),
        ("x2:y", "champion", "2027-03-01"),
    ):
        record_assignment(
            database_url,
            loan_id="L-1",
            experiment=experiment,
            arm=arm,
            strategy_ref="s@1",
            at=at(day),
        )
    facts, _ = load_facts(database_url, at("2027-12-31"))
    assert [f.arm for f in facts] == [None, "challenger", "champion"]
    only_first, _ = load_facts(database_url, at("2027-12-31"), experiment="x:y")
    assert [f.arm for f in only_first] == [None, "challenger", "challenger"]
    assert [f.dpd for f in facts] == [5, 0, 5]
    before, _ = load_facts(database_url, at("2026-12-20", hour=9))
    assert len(before) == 1
