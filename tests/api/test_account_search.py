"""`GET /v1/accounts` (CONTRACT.md v1.1): account search over the store, for staff. Rows are
written straight into the store (what the workflow's activities would have written); one test
starts a real episode to prove the start fills the directory the search reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from store.staff import AccountDirectoryRow, phone_endings
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.seed import account_row, seed
from tests.workflows.helpers import account_json, business_today, start

NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


async def _clock() -> datetime:
    return NOW


@pytest.fixture
async def store_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API with no Temporal behind it: the search reads the store only."""
    app = create_app(settings, clock=_clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as client:
        yield client


def entry(loan_id: str, name: str, *phones: str, borrower_id: str | None = None) -> object:
    return AccountDirectoryRow(
        loan_id=loan_id,
        borrower_id=borrower_id or loan_id,
        name=name,
        name_key=name.casefold(),
        phone_endings=phone_endings(list(phones)),
    )


@pytest.fixture
def portfolio(database_url: str) -> str:
    seed(
        database_url,
        account_row("L-1001", assignee="alice", amount_overdue=Decimal("1200.00")),
        account_row("L-1002", assignee="bob", bucket="M2", stage="mid_range", dpd=40),
        account_row("L-1003", state="current", bucket="current", stage="pre_due"),
        account_row("L-2001"),  # started before the directory existed: no entry
        entry("L-1001", "Wang Fang", "+8613800138000"),
        entry("L-1002", "Li Wei", "+8613900139001", borrower_id="B-7"),
        entry("L-1003", "Zhang Wei", "+8613700137002", "+8613600136003", borrower_id="B-7"),
    )
    return database_url


def loans(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["loan_id"] for item in response.json()["items"]]


async def test_staff_but_not_the_loan_system_may_search(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    assert (await store_api.get("/v1/accounts")).status_code == 401
    assert (await store_api.get("/v1/accounts", headers=LOAN_SYSTEM)).status_code == 403
    for who in (SUPERVISOR, AUDITOR):
        assert loans(await store_api.get("/v1/accounts", headers=who)) == [
            "L-1001",
            "L-1002",
            "L-1003",
            "L-2001",
        ]


async def test_a_collector_finds_only_accounts_they_hold_or_nobody_holds(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    assert loans(await store_api.get("/v1/accounts", headers=COLLECTOR)) == [
        "L-1001",
        "L-1003",
        "L-2001",
    ]
    assert loans(await store_api.get("/v1/accounts?q=Li Wei", headers=COLLECTOR)) == []


async def test_q_matches_a_loan_id_a_part_of_the_name_or_a_phones_last_four_digits(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    async def found(q: str) -> list[str]:
        return loans(await store_api.get("/v1/accounts", params={"q": q}, headers=SUPERVISOR))

    assert await found("L-1002") == ["L-1002"]
    assert await found("l-10") == ["L-1001", "L-1002", "L-1003"]
    assert await found("wei") == ["L-1002", "L-1003"]
    assert await found("WANG") == ["L-1001"]
    assert await found("8000") == ["L-1001"]
    assert await found("6003") == ["L-1003"]  # the borrower's second phone
    assert await found("3800") == []  # four digits inside a number are not its ending
    assert await found("%") == []  # a wildcard is a character, not a pattern


async def test_filters_narrow_exactly_and_the_summary_says_what_a_list_needs(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    get = store_api.get
    assert loans(await get("/v1/accounts?bucket=M2", headers=SUPERVISOR)) == ["L-1002"]
    assert loans(await get("/v1/accounts?stage=pre_due", headers=SUPERVISOR)) == ["L-1003"]
    assert loans(await get("/v1/accounts?holder=alice", headers=SUPERVISOR)) == ["L-1001"]
    assert loans(await get("/v1/accounts?state=current", headers=SUPERVISOR)) == ["L-1003"]
    assert loans(await get("/v1/accounts?borrower_id=B-7", headers=SUPERVISOR)) == [
        "L-1002",
        "L-1003",
    ]
    assert loans(await get("/v1/accounts?borrower_id=L-2001", headers=SUPERVISOR)) == ["L-2001"]
    first = (await get("/v1/accounts?q=L-1001", headers=SUPERVISOR)).json()["items"][0]
    assert first == {
        **first,
        "loan_id": "L-1001",
        "borrower_id": "L-1001",
        "borrower_name": "Wang Fang",
        "state": "delinquent",
        "bucket": "M1",
        "stage": "front_end",
        "currency": "CNY",
        "amount_overdue": "1200.00",
        "holder": "alice",
    }


async def test_pages_follow_the_cursor_to_the_end_without_repeating(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await store_api.get("/v1/accounts", params=params, headers=SUPERVISOR)
        seen += loans(page)
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["L-1001", "L-1002", "L-1003", "L-2001"]
    assert pages == 2


@pytest.mark.parametrize(
    "query", ["cursor=nonsense!", "cursor=eyJ2IjoyfQ", "limit=0", "limit=201", "limit=x"]
)
async def test_a_cursor_this_api_did_not_write_or_a_bad_limit_is_422(
    store_api: httpx.AsyncClient, portfolio: str, query: str
) -> None:
    response = await store_api.get(f"/v1/accounts?{query}", headers=SUPERVISOR)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


async def test_a_started_account_is_found_by_its_borrowers_name_and_phone(
    api: httpx.AsyncClient, worker: Worker, workflow_env: WorkflowEnvironment
) -> None:
    due = await business_today(workflow_env)
    await start(api, account_json("L-SEARCH-1", due))
    await workflow_env.sleep(timedelta(days=2))  # its first moments write the snapshot
    for _ in range(100):
        found = await api.get("/v1/accounts", params={"q": "wang fang"}, headers=SUPERVISOR)
        if loans(found):
            break
        await asyncio.sleep(0.05)
    assert loans(found) == ["L-SEARCH-1"]
    by_phone = await api.get("/v1/accounts", params={"q": "8000"}, headers=AUDITOR)
    assert loans(by_phone) == ["L-SEARCH-1"]


async def test_a_collector_may_not_read_the_timeline_of_an_account_someone_else_holds(
    store_api: httpx.AsyncClient, portfolio: str
) -> None:
    refused = await store_api.get("/v1/accounts/L-1002/timeline", headers=COLLECTOR)
    assert refused.status_code == 403, refused.text
    assert "held by bob" in refused.json()["error"]["message"]
