"""The account page's notes and action forms over HTTP (issue 15); the browser tests drive the
same forms in Chromium against real workflows. Here there is no Temporal: notes (written by the
API into the store, no workflow) work, and an action that needs the workflow shows the API's
503 on its form, with what was typed kept. A form's own validation (the JSON API's model) is
refused before Temporal is asked."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from store.engine import session_scope
from store.notes import AccountNoteRow
from tests.desk.conftest import PASSWORD, csrf_of, signed_in
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"alice": "collector", "carol": "supervisor", "dave": "auditor"}


def _notes(database_url: str) -> list[AccountNoteRow]:
    with session_scope(database_url) as session:
        return list(session.exec(select(AccountNoteRow)).all())


async def _page(desk: httpx.AsyncClient, loan_id: str) -> str:
    page = await desk.get(f"/desk/accounts/{loan_id}")
    assert page.status_code == 200, page.text
    return page.text


async def _on_account(
    desk: httpx.AsyncClient, database_url: str, user: str, loan_id: str, **row: object
) -> str:
    """A stored account, `user` signed in on its page: the page's HTML."""
    seed(database_url, account_row(loan_id, **row))
    await signed_in(desk, user)
    return await _page(desk, loan_id)


async def test_a_note_written_on_the_page_is_listed_newest_first_with_its_author(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    page = await _on_account(desk, database_url, "alice", "DA-1", timezone="Asia/Shanghai")
    for text in ("first: abroad until the 20th", "second: call after 18:00"):
        saved = await desk.post(
            "/desk/accounts/DA-1/notes", data={"csrf": csrf_of(page), "note_text": text}
        )
        assert saved.status_code == 303, saved.text
    page = await _page(desk, "DA-1")
    notes = page.split('id="notes"')[1].split("</table>")[0]
    assert notes.index("second: call after 18:00") < notes.index("first: abroad until the 20th")
    assert "alice (collector)" in notes
    assert "2026-12-10 11:00 (Asia/Shanghai)" in notes  # the business time, borrower-local
    assert [n.author for n in _notes(database_url)] == ["alice", "alice"]


async def test_a_refused_note_is_shown_on_its_form_with_the_text_kept(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    page = await _on_account(desk, database_url, "alice", "DA-2")
    too_long = "x" * 2001
    refused = await desk.post(
        "/desk/accounts/DA-2/notes", data={"csrf": csrf_of(page), "note_text": too_long}
    )
    assert refused.status_code == 422
    assert 'id="refusal-note"' in refused.text and "at most 2000 characters" in refused.text
    assert f">{too_long}</textarea>" in refused.text
    assert _notes(database_url) == []


async def test_a_collector_may_not_note_or_act_on_an_account_another_holds(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, account_row("DA-3", assignee="bob"), account_row("DA-4"))
    await signed_in(desk, "alice")
    csrf = csrf_of(await _page(desk, "DA-4"))
    note = await desk.post("/desk/accounts/DA-3/notes", data={"csrf": csrf, "note_text": "x"})
    assert note.status_code == 403
    dispute = await desk.post(
        "/desk/accounts/DA-3/actions/dispute", data={"csrf": csrf, "dispute_reason": "fee"}
    )
    assert dispute.status_code == 403
    assert _notes(database_url) == []


async def test_an_auditor_reads_the_notes_but_has_no_forms_and_may_not_post(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    page = await _on_account(desk, database_url, "dave", "DA-5")
    assert 'id="notes"' in page and 'id="form-note"' not in page and "form-hardship" not in page
    refused = await desk.post(
        "/desk/accounts/DA-5/notes", data={"csrf": csrf_of(page), "note_text": "x"}
    )
    assert refused.status_code == 403 and _notes(database_url) == []


async def test_an_action_the_model_refuses_is_shown_on_its_form_and_nothing_typed_is_lost(
    desk: httpx.AsyncClient,
    database_url: str,
) -> None:
    page = await _on_account(desk, database_url, "carol", "DA-6")
    typed = {
        "csrf": csrf_of(page),
        "hardship_cause": "lost job",
        "hardship_term": "",  # the model needs short or long
        "hardship_surmountable": "yes",
        "hardship_notes": "new job from the 15th",
    }
    refused = await desk.post("/desk/accounts/DA-6/actions/hardship", data=typed)
    assert refused.status_code == 422
    shown = refused.text
    assert 'id="refusal-hardship"' in shown and "term" in shown.split('id="refusal-hardship"')[1]
    assert 'value="lost job"' in shown and ">new job from the 15th</textarea>" in shown
    assert 'name="hardship_surmountable" value="yes" checked' in shown
    # An empty contact-details form says what it needs; a restructure form without an offer
    # is not on the page (no open offer) but a forged post is refused by the model.
    empty = await desk.post(
        "/desk/accounts/DA-6/actions/contact-info", data={"csrf": typed["csrf"]}
    )
    assert empty.status_code == 422 and "nothing to record" in empty.text
    assert "form-restructure" not in page


async def test_an_action_the_workflow_cannot_take_now_is_shown_with_the_apis_refusal(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    page = await _on_account(desk, database_url, "alice", "DA-7")
    typed = {"csrf": csrf_of(page), "dispute_reason": "disputes the late fee"}
    refused = await desk.post("/desk/accounts/DA-7/actions/dispute", data=typed)
    # No Temporal here: the API's own 503, on the dispute's form, the reason kept.
    assert refused.status_code == 503
    assert 'id="refusal-dispute"' in refused.text
    assert 'value="disputes the late fee"' in refused.text
    unknown = await desk.post("/desk/accounts/DA-7/actions/nonsense", data=typed)
    assert unknown.status_code == 404


async def test_a_form_posted_after_the_session_ended_records_nothing_and_comes_back_as_typed(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    """Section "Bad input" of the desk: an expired session sends the user to sign in and back to
    the form with what they typed (in the sign-in form's body, never a URL or a cookie)."""
    page = await _on_account(desk, database_url, "alice", "DA-8")
    desk.cookies.clear()
    typed = "abroad until the 20th, call after 18:00"
    ended = await desk.post(
        "/desk/accounts/DA-8/notes", data={"csrf": csrf_of(page), "note_text": typed}
    )
    assert ended.status_code == 401
    assert f'name="draft.note_text" value="{typed}"' in ended.text
    assert 'name="next" value="/desk/accounts/DA-8"' in ended.text
    assert _notes(database_url) == []
    again = {
        "csrf": csrf_of(ended.text),
        "next": "/desk/accounts/DA-8",
        "username": "alice",
        "password": PASSWORD,
        "draft.note_text": typed,
    }
    back = await desk.post("/desk/sign-in", data=again)
    assert back.status_code == 200, back.text
    assert f">{typed}</textarea>" in back.text
    assert "signed in again. Nothing was recorded yet" in back.text
    assert _notes(database_url) == []  # nothing is recorded until the person sends it again


async def test_a_note_without_the_sessions_csrf_token_is_refused(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    await _on_account(desk, database_url, "alice", "DA-9")
    forged = await desk.post("/desk/accounts/DA-9/notes", data={"csrf": "forged", "note_text": "x"})
    assert forged.status_code == 403 and _notes(database_url) == []
