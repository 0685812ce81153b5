"""Notes on an account (issue 15, CONTRACT.md v1.1): written by collectors and supervisors
through the API into the store (a note is not a business fact: no workflow is involved), read
newest first with cursor pages, refused at the door when empty or too long, closed to a
collector on an account someone else holds, and shown on the explained timeline as `note`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from api.app import create_app
from api.services import paging
from audit.timeline.build import build_timeline
from audit.timeline.notes import note_entries
from core.logmask import MASK
from core.settings import Settings
from domain.limits import NOTES_LENGTH
from store.engine import get_engine, session_scope
from store.migrate import alembic_config
from store.notes import AccountNoteRow
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.seed import account_row, seed

START = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


class Clock:
    """The business clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    async def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(
    settings: Settings, database_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    seed(database_url, account_row("N-1"), account_row("N-BOB", assignee="bob"))
    app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as client:
        yield client


def _stored(database_url: str) -> list[AccountNoteRow]:
    with session_scope(database_url) as session:
        return list(session.exec(select(AccountNoteRow)).all())


async def test_a_note_is_kept_with_its_author_and_business_time_and_listed_newest_first(
    api: httpx.AsyncClient, clock: Clock
) -> None:
    first = await api.post(
        "/v1/accounts/N-1/notes", json={"text": "  abroad until the 20th "}, headers=COLLECTOR
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["text"], body["author"], body["role"]) == (
        "abroad until the 20th",
        "alice",
        "collector",
    )
    assert datetime.fromisoformat(body["created_at"]) == START
    clock.now = START + timedelta(hours=2)
    second = await api.post(
        "/v1/accounts/N-1/notes", json={"text": "spoke to her sister"}, headers=SUPERVISOR
    )
    assert second.status_code == 201 and second.json()["author"] == "carol"
    listed = await api.get("/v1/accounts/N-1/notes", headers=AUDITOR)
    assert listed.status_code == 200, listed.text
    assert [n["text"] for n in listed.json()] == ["spoke to her sister", "abroad until the 20th"]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "a" * (NOTES_LENGTH + 1), "nul\x00inside"],
    ids=["empty", "blank", "too_long", "nul"],
)
async def test_an_empty_or_overlong_note_is_a_422_and_nothing_is_kept(
    api: httpx.AsyncClient, database_url: str, text: str
) -> None:
    refused = await api.post("/v1/accounts/N-1/notes", json={"text": text}, headers=COLLECTOR)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_input"
    assert _stored(database_url) == []


async def test_a_note_at_the_length_bound_is_kept(
    api: httpx.AsyncClient, database_url: str
) -> None:
    kept = await api.post(
        "/v1/accounts/N-1/notes", json={"text": "字" * NOTES_LENGTH}, headers=COLLECTOR
    )
    assert kept.status_code == 201, kept.text
    assert len(_stored(database_url)[0].text) == NOTES_LENGTH


async def test_a_collector_notes_and_reads_only_accounts_they_may_see(
    api: httpx.AsyncClient, database_url: str
) -> None:
    refused = await api.post("/v1/accounts/N-BOB/notes", json={"text": "x"}, headers=COLLECTOR)
    assert refused.status_code == 403, refused.text
    assert (await api.get("/v1/accounts/N-BOB/notes", headers=COLLECTOR)).status_code == 403
    # Bob's supervisor may; the loan system and auditors write none.
    assert (
        await api.post("/v1/accounts/N-BOB/notes", json={"text": "x"}, headers=SUPERVISOR)
    ).status_code == 201
    for headers in (AUDITOR, LOAN_SYSTEM):
        answer = await api.post("/v1/accounts/N-1/notes", json={"text": "x"}, headers=headers)
        assert answer.status_code == 403, answer.text
    assert [r.loan_id for r in _stored(database_url)] == ["N-BOB"]


async def test_notes_of_an_unknown_account_are_a_404(api: httpx.AsyncClient) -> None:
    assert (
        await api.post("/v1/accounts/N-NONE/notes", json={"text": "x"}, headers=SUPERVISOR)
    ).status_code == 404
    assert (await api.get("/v1/accounts/N-NONE/notes", headers=SUPERVISOR)).status_code == 404


async def test_the_notes_pages_walk_every_note_once_in_order_ties_included(
    api: httpx.AsyncClient,
) -> None:
    for n in range(5):  # all at one instant: the later-written first
        await api.post("/v1/accounts/N-1/notes", json={"text": f"note {n}"}, headers=COLLECTOR)
    texts: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = await api.get("/v1/accounts/N-1/notes", params=params, headers=COLLECTOR)
        assert page.status_code == 200, page.text
        texts += [n["text"] for n in page.json()]
        pages += 1
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in page.headers
            break
        assert cursor in page.headers["Link"] and 'rel="next"' in page.headers["Link"]
        params = {"limit": 2, "cursor": cursor}
    assert texts == [f"note {n}" for n in (4, 3, 2, 1, 0)] and pages == 3
    messages = await api.get("/v1/accounts/N-1/messages", params={"limit": 1}, headers=COLLECTOR)
    assert messages.status_code == 200
    foreign = paging.encode("messages", {"at": START.isoformat(), "in": False, "id": 1})
    wrong = await api.get("/v1/accounts/N-1/notes", params={"cursor": foreign}, headers=COLLECTOR)
    assert wrong.status_code == 422 and "another listing" in wrong.text


async def test_a_note_is_a_note_entry_of_the_timeline_its_text_withheld_without_history(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await api.post(
        "/v1/accounts/N-1/notes", json={"text": "abroad until the 20th"}, headers=COLLECTOR
    )
    timeline = await build_timeline(None, database_url, "N-1")
    assert timeline is not None
    [entry] = [e for e in timeline.entries if e.kind == "note"]
    assert entry.at == START and entry.source == "store"
    # Without the history the borrower's name cannot be scrubbed from free text: withheld.
    assert entry.summary == f"note by alice (collector): {MASK}"
    row = {"id": 1, "text": "abroad", "author": "alice", "role": "collector", "created_at": START}
    [shown] = note_entries([row], lambda at: ("default@1", None), withhold=False)
    assert shown.summary == "note by alice (collector): abroad" and shown.rule is None


def test_the_notes_migration_matches_the_table_and_downgrades(database_url: str) -> None:
    def differences() -> list[object]:
        with get_engine(database_url).connect() as connection:
            found = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        return [d for d in found if "account_notes" in repr(d)]

    def migrate(target: str, down: bool = False) -> None:
        config = alembic_config(database_url)
        with get_engine(database_url).begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, target)

    assert differences() == []
    migrate("0012", down=True)
    get_engine(database_url).dispose()
    assert "account_notes" not in inspect(get_engine(database_url)).get_table_names()
    migrate("head")
    get_engine(database_url).dispose()
    assert differences() == []
