"""Letters on the desk's account page (issue 15): each listed with a link that opens its PDF
through the desk's session, read and checked as the JSON API reads it; a collector may not open
the letters of an account someone else holds, and a hostile loan id in a URL is shown escaped."""

from __future__ import annotations

import httpx

from core.settings import Settings
from tests.api.test_letters_read import PDF, _letter
from tests.desk.conftest import sign_in
from tests.seed import account_row, seed


async def test_the_account_page_lists_the_letters_and_opens_the_pdf(
    desk: httpx.AsyncClient, database_url: str, settings: Settings
) -> None:
    seed(database_url, account_row("DL-1", timezone="Asia/Shanghai"), _letter(settings, "DL-1"))
    await sign_in(desk)
    page = await desk.get("/desk/accounts/DL-1")
    assert page.status_code == 200, page.text
    assert 'href="/desk/accounts/DL-1/letters/DL-1-e1-1.pdf"' in page.text
    pdf = await desk.get("/desk/accounts/DL-1/letters/DL-1-e1-1.pdf")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"


async def test_a_collector_cannot_open_the_letters_of_an_account_another_holds(
    desk: httpx.AsyncClient, database_url: str, settings: Settings
) -> None:
    seed(database_url, account_row("DL-2", assignee="bob"), _letter(settings, "DL-2"))
    await sign_in(desk)
    refused = await desk.get("/desk/accounts/DL-2/letters/DL-2-e1-1.pdf")
    assert refused.status_code == 403 and "%PDF" not in refused.text
    unknown = await desk.get("/desk/accounts/%3Cb%3Ex")
    assert unknown.status_code == 404
    assert "<b>" not in unknown.text and "&lt;b&gt;" in unknown.text
