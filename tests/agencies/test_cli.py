"""`arrears agencies add` and `arrears agencies list` against the store of DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from arrears.cli import app
from core import logmask
from core.settings import get_settings
from store import agencies as registry
from store.engine import session_scope

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads DATABASE_URL once per process; point it at the test's store."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    logmask.uninstall()  # every `arrears` command installs the PII log masker


def test_agencies_add_registers_an_agency_and_list_shows_it(database_url: str) -> None:
    empty = runner.invoke(app, ["agencies", "list"])
    assert empty.exit_code == 0, empty.output
    assert "no agencies registered" in empty.output
    added = runner.invoke(
        app, ["agencies", "add", "Huatai Recovery", "--commission", "0.18", "--capacity", "500"]
    )
    assert added.exit_code == 0, added.output
    with session_scope(database_url) as session:
        (load,) = registry.list_agencies(session)
    assert (load.agency.name, str(load.agency.commission_rate), load.agency.capacity) == (
        "Huatai Recovery",
        "0.18000",
        500,
    )
    listed = runner.invoke(app, ["agencies", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert load.agency.agency_id in listed.output and "Huatai Recovery" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--commission", "1.2", "--capacity", "5"], "between 0 and 1"),
        (["--commission", "abc", "--capacity", "5"], "decimal fraction"),
        (["--commission", "0.2", "--capacity", "0"], "at least 1"),
    ],
)
def test_agencies_add_refuses_bad_terms_with_one_line(
    database_url: str, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["agencies", "add", "Huatai Recovery", *args])
    assert result.exit_code == 1
    assert message in result.output
    with session_scope(database_url) as session:
        assert registry.list_agencies(session) == []


def test_agencies_add_refuses_a_name_already_registered() -> None:
    args = ["agencies", "add", "Huatai Recovery", "--commission", "0.18", "--capacity", "5"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "already registered" in again.output
