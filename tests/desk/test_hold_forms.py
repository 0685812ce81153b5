"""The account page's attorney, cease-communication and hold-release forms over HTTP (issue 15),
with no Temporal: each form's model (the JSON endpoint's own) refuses bad input on the form with
what was typed kept, a form that needs the workflow shows the API's 503 on that form, and only
collectors and supervisors may post. The release that reaches a real workflow is the browser
test's (tests/desk/test_browser_borrower.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.desk.conftest import csrf_of, signed_in
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"alice": "collector", "dave": "auditor"}


async def _csrf(desk: httpx.AsyncClient, database_url: str, user: str, loan_id: str) -> str:
    seed(database_url, account_row(loan_id))
    await signed_in(desk, user)
    page = await desk.get(f"/desk/accounts/{loan_id}")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def test_an_attorney_without_a_valid_phone_is_refused_on_its_form_with_the_name_kept(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    csrf = await _csrf(desk, database_url, "alice", "HF-1")
    typed = {"csrf": csrf, "attorney_name": "Zhang Lei", "attorney_phone": "call me"}
    refused = await desk.post("/desk/accounts/HF-1/actions/attorney", data=typed)
    assert refused.status_code == 422
    box = refused.text.split('id="refusal-attorney"')[1].split("</div>")[0]
    assert "phone" in box
    assert 'value="Zhang Lei"' in refused.text and 'value="call me"' in refused.text
    nameless = await desk.post(
        "/desk/accounts/HF-1/actions/attorney",
        data={"csrf": csrf, "attorney_phone": "+8613700137000"},
    )
    assert nameless.status_code == 422 and 'id="refusal-attorney"' in nameless.text
    assert 'value="+8613700137000"' in nameless.text


async def test_a_valid_attorney_or_cease_request_needs_the_workflow_and_says_so_on_its_form(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    csrf = await _csrf(desk, database_url, "alice", "HF-2")
    attorney = {
        "csrf": csrf,
        "attorney_name": "Zhang Lei",
        "attorney_phone": "+8613700137000",
        "attorney_notes": "letter of representation",
    }
    refused = await desk.post("/desk/accounts/HF-2/actions/attorney", data=attorney)
    assert refused.status_code == 503 and 'id="refusal-attorney"' in refused.text
    assert ">letter of representation</textarea>" in refused.text
    cease = {"csrf": csrf, "cease_notes": "asked by letter dated 2026-12-04"}
    refused = await desk.post("/desk/accounts/HF-2/actions/cease-communication", data=cease)
    assert refused.status_code == 503 and 'id="refusal-cease-communication"' in refused.text
    assert ">asked by letter dated 2026-12-04</textarea>" in refused.text


async def test_a_cease_request_with_notes_too_long_is_refused_by_the_model(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    csrf = await _csrf(desk, database_url, "alice", "HF-3")
    too_long = "x" * 2001
    refused = await desk.post(
        "/desk/accounts/HF-3/actions/cease-communication",
        data={"csrf": csrf, "cease_notes": too_long},
    )
    assert refused.status_code == 422
    assert "at most 2000 characters" in refused.text.split('id="refusal-cease-communication"')[1]
    assert f">{too_long}</textarea>" in refused.text


async def test_a_release_is_refused_for_an_unknown_kind_an_auditor_or_without_the_workflow(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    csrf = await _csrf(desk, database_url, "alice", "HF-4")
    unknown = await desk.post("/desk/accounts/HF-4/holds/holiday/release", data={"csrf": csrf})
    assert unknown.status_code == 404
    typed = {"csrf": csrf, "release_dispute_notes": "resolved: the fee was waived"}
    refused = await desk.post("/desk/accounts/HF-4/holds/dispute/release", data=typed)
    # No Temporal: the hold's form is not on the page (no status), so the refusal is shown
    # above the holds, the notes kept for the next try.
    assert refused.status_code == 503
    assert 'id="refusal-release-dispute"' in refused.text
    desk.cookies.clear()
    await signed_in(desk, "dave")
    page = await desk.get("/desk/accounts/HF-4")
    assert 'id="release-holds"' not in page.text
    auditor = await desk.post(
        "/desk/accounts/HF-4/holds/dispute/release", data={"csrf": csrf_of(page.text)}
    )
    assert auditor.status_code == 403
