"""The desk's search page (issue 15): the JSON API's account search, with the same rule for a
collector (accounts they hold or nobody holds), paged by its cursor; a forged cursor is refused
on the page."""

from __future__ import annotations

import httpx
import pytest

from store.staff import AccountDirectoryRow
from tests.desk.conftest import signed_in
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"alice": "collector", "dave": "auditor"}


def _entry(loan_id: str, name: str, ending: str) -> AccountDirectoryRow:
    return AccountDirectoryRow(
        loan_id=loan_id,
        borrower_id=loan_id,
        name=name,
        name_key=name.casefold(),
        phone_endings=f" {ending} ",
    )


def _loans(page: str) -> list[str]:
    table = page.split('id="results"')[1].split("</table>")[0]
    return [cell.split('">')[1] for cell in table.split('<a href="/desk/accounts/')[1:]]


async def test_a_collector_finds_by_name_or_phone_only_what_they_may_see(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(
        database_url,
        account_row("SP-1", assignee="alice"),
        account_row("SP-2"),
        account_row("SP-3", assignee="bob"),
        _entry("SP-1", "Wang Fang", "8000"),
        _entry("SP-2", "Wang Wei", "8000"),
        _entry("SP-3", "Wang Li", "8000"),
    )
    await signed_in(desk, "alice")
    by_name = await desk.get("/desk/search", params={"q": "wang"})
    assert by_name.status_code == 200, by_name.text
    assert [loan.split("<")[0] for loan in _loans(by_name.text)] == ["SP-1", "SP-2"]
    by_phone = await desk.get("/desk/search", params={"q": "8000", "holder": "alice"})
    assert [loan.split("<")[0] for loan in _loans(by_phone.text)] == ["SP-1"]


async def test_an_auditor_pages_through_every_account_and_a_forged_cursor_is_refused(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    rows = [account_row(f"SQ-{n:02d}", assignee="bob") for n in range(55)]
    seed(database_url, *rows)
    await signed_in(desk, "dave")
    first = await desk.get("/desk/search", params={"q": "SQ-"})
    assert len(_loans(first.text)) == 50
    assert 'href="/desk/audit/SQ-00"' in first.text  # auditors get the audit page's link
    link = first.text.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
    second = await desk.get(link)
    assert len(_loans(second.text)) == 5 and 'id="next-page"' not in second.text
    forged = await desk.get("/desk/search", params={"cursor": "forged"})
    assert forged.status_code == 422 and "cursor" in forged.text
