"""The desk's borrower page (issues 12 and 15) over HTTP, from stored rows and no Temporal: the
borrower's loans as `GET /v1/borrowers/{id}` lists them (a collector sees the borrower when they
may see one of the loans, and only those loans), the 403 and 404 pages, and the links to it from
the account page and the search. The holds, contact counts and the merged timeline of real
workflows are the browser test's (tests/desk/test_browser_borrower.py)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from store.staff import AccountDirectoryRow
from tests.desk.conftest import signed_in
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"alice": "collector", "carol": "supervisor", "dave": "auditor", "erin": "legal"}


def _entry(loan_id: str, borrower_id: str, name: str = "Wang Fang") -> AccountDirectoryRow:
    return AccountDirectoryRow(
        loan_id=loan_id, borrower_id=borrower_id, name=name, name_key=name.casefold()
    )


def _two_loans(database_url: str, second_holder: str | None = "bob") -> None:
    """Borrower BP-B with two loans: BP-1 nobody holds, BP-2 held by `second_holder`."""
    seed(
        database_url,
        account_row("BP-1", dpd=12, amount_overdue=Decimal("1500.5"), timezone="Asia/Shanghai"),
        account_row("BP-2", dpd=40, bucket="M2", assignee=second_holder, timezone="Asia/Shanghai"),
        _entry("BP-1", "BP-B"),
        _entry("BP-2", "BP-B"),
    )


def _loans(page: str) -> list[str]:
    table = page.split('id="borrower-loans"')[1].split("</table>")[0]
    return [cell.split('"')[0] for cell in table.split('<a href="/desk/accounts/')[1:]]


async def test_a_supervisor_sees_every_loan_of_the_borrower_with_its_state_dpd_and_holder(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    _two_loans(database_url)
    await signed_in(desk, "carol")
    page = await desk.get("/desk/borrowers/BP-B")
    assert page.status_code == 200, page.text
    assert _loans(page.text) == ["BP-1", "BP-2"]
    loans = page.text.split('id="borrower-loans"')[1].split("</table>")[0]
    assert "<td>12</td><td>M1</td>" in loans and "1500.50 CNY" in loans
    assert "<td>40</td><td>M2</td>" in loans and "<td>bob</td>" in loans
    assert "Wang Fang" in page.text and "Asia/Shanghai" in page.text
    # No Temporal here: the page says the contact authority could not be read, and shows
    # no made-up holds or counts.
    assert 'id="borrower-unread"' in page.text and 'id="contacts-today"' not in page.text
    assert 'id="borrower-timeline"' in page.text


async def test_a_collector_sees_the_borrower_through_the_loans_they_may_see_and_only_those(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    _two_loans(database_url)
    await signed_in(desk, "alice")
    page = await desk.get("/desk/borrowers/BP-B")
    assert page.status_code == 200, page.text
    assert _loans(page.text) == ["BP-1"]  # BP-2 is bob's


async def test_a_collector_whose_borrower_has_every_loan_held_by_others_gets_the_403_page(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, account_row("BP-3", assignee="bob"), _entry("BP-3", "BP-C"))
    await signed_in(desk, "alice")
    page = await desk.get("/desk/borrowers/BP-C")
    assert page.status_code == 403
    assert "BP-3" not in page.text


async def test_an_unknown_borrower_is_the_404_page_and_a_non_reader_the_403_page(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    _two_loans(database_url)
    await signed_in(desk, "dave")
    assert (await desk.get("/desk/borrowers/nobody")).status_code == 404
    assert (await desk.get("/desk/borrowers/bad%20id")).status_code == 404
    auditor = await desk.get("/desk/borrowers/BP-B")
    assert auditor.status_code == 200 and _loans(auditor.text) == ["BP-1", "BP-2"]
    desk.cookies.clear()
    await signed_in(desk, "erin")
    assert (await desk.get("/desk/borrowers/BP-B")).status_code == 403


async def test_the_account_page_and_the_search_link_to_the_borrower(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    _two_loans(database_url, second_holder=None)
    await signed_in(desk, "alice")
    account = await desk.get("/desk/accounts/BP-2")
    assert account.status_code == 200, account.text
    assert 'id="borrower-link" href="/desk/borrowers/BP-B"' in account.text
    found = await desk.get("/desk/search", params={"borrower_id": "BP-B"})
    assert found.status_code == 200, found.text
    results = found.text.split('id="results"')[1].split("</table>")[0]
    assert results.count('href="/desk/borrowers/BP-B"') == 2
    assert 'value="BP-B"' in found.text


async def test_signing_in_is_needed_to_read_a_borrower(desk: httpx.AsyncClient) -> None:
    answer = await desk.get("/desk/borrowers/BP-B")
    assert answer.status_code in (302, 303, 307)
    assert "/desk/sign-in" in answer.headers["location"]
