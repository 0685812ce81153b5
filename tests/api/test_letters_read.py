"""The account's letters (issue 15): listed for the staff who may read the account, each PDF
served as rendered — checked against the sha256 recorded when it was written, so a file changed
on disk is refused instead of shown as what the borrower received."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import httpx

from core.settings import Settings
from store.letters import LetterRow
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.seed import account_row, seed

PDF = b"%PDF-1.4\n% a test letter\n%%EOF\n"


def _letter(settings: Settings, loan_id: str, body: bytes = PDF) -> LetterRow:
    relative = f"letters/{loan_id}-1.pdf"
    path = settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return LetterRow(
        letter_id=f"{loan_id}-e1-1",
        loan_id=loan_id,
        workflow_id=f"account-{loan_id}",
        episode="e1",
        seq=1,
        kind="demand_letter",
        locale="zh-CN",
        path=relative,
        sha256=hashlib.sha256(PDF).hexdigest(),
        pages=1,
        addressee="Wang Fang",
        dispatch_date=date(2026, 12, 8),
        batch_file="letters/batch-2026-12-08.csv",
        created_at=datetime(2026, 12, 7, 2, tzinfo=UTC),
    )


async def test_the_letters_are_listed_and_each_opens_as_the_pdf_that_was_rendered(
    api: httpx.AsyncClient, database_url: str, settings: Settings
) -> None:
    seed(database_url, account_row("LT-1"), _letter(settings, "LT-1"))
    listed = await api.get("/v1/accounts/LT-1/letters", headers=SUPERVISOR)
    assert listed.status_code == 200, listed.text
    [letter] = listed.json()
    assert letter["kind"] == "demand_letter" and letter["dispatch_date"] == "2026-12-08"
    assert letter["pdf"] == "/v1/accounts/LT-1/letters/LT-1-e1-1.pdf"

    pdf = await api.get(letter["pdf"], headers=COLLECTOR)  # nobody holds it: alice may read
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == PDF


async def test_a_pdf_changed_on_disk_is_refused_and_strangers_read_nothing(
    api: httpx.AsyncClient, database_url: str, settings: Settings
) -> None:
    seed(database_url, account_row("LT-2", assignee="bob"), _letter(settings, "LT-2", b"forged"))
    changed = await api.get("/v1/accounts/LT-2/letters/LT-2-e1-1.pdf", headers=SUPERVISOR)
    assert changed.status_code == 409, changed.text
    assert "sha256" in changed.json()["error"]["message"]
    for path in ("/v1/accounts/LT-2/letters", "/v1/accounts/LT-2/letters/LT-2-e1-1.pdf"):
        assert (await api.get(path, headers=COLLECTOR)).status_code == 403  # bob holds it
        assert (await api.get(path, headers=LOAN_SYSTEM)).status_code == 403
    other = await api.get("/v1/accounts/LT-X/letters/LT-2-e1-1.pdf", headers=SUPERVISOR)
    assert other.status_code == 404  # a letter is read only under its own account
    assert (await api.get("/v1/accounts/LT-X/letters", headers=SUPERVISOR)).status_code == 404
