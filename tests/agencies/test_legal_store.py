"""Legal cases (store/legal.py): a status history that only moves forward, closing from any
status, and idempotent writes by action."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from store import legal
from store.engine import session_scope
from tests.agencies.conftest import AT, EPISODE


def open_case(url: str, loan_id: str = "L-1", seq: int = 1) -> legal.LegalCaseRow:
    with session_scope(url) as session:
        return legal.open_case(
            session,
            loan_id=loan_id,
            workflow_id=f"account-{loan_id}",
            episode=EPISODE,
            action_seq=seq,
            at=AT,
            amount_claimed=Decimal("3672.40"),
            currency="CNY",
        )


def advance(url: str, case_id: str, status: str, days: int, note: str = "") -> legal.LegalCaseRow:
    with session_scope(url) as session:
        return legal.advance_case(session, case_id, status, AT + timedelta(days=days), note)


def history(url: str, case_id: str) -> list[tuple[str, int, str]]:
    with session_scope(url) as session:
        return [
            (e.status, (e.at - AT).days if e.at else -1, e.note)
            for e in legal.case_events(session, case_id)
        ]


def test_a_case_opens_in_preparing_and_each_step_appends_to_its_status_history(
    database_url: str,
) -> None:
    case = open_case(database_url)
    assert (case.status, case.opened_at, case.amount_claimed) == (
        "preparing",
        AT,
        Decimal("3672.40"),
    )
    advance(database_url, case.case_id, "filed", 30, "filed at Pudong court")
    advance(database_url, case.case_id, "hearing", 60, "first hearing")
    advance(database_url, case.case_id, "hearing", 75, "adjourned: second hearing")
    advance(database_url, case.case_id, "judgment", 90, "judgment for the lender")
    latest = advance(database_url, case.case_id, "enforcement", 100)
    assert (latest.status, latest.updated_at, latest.closed_at) == (
        "enforcement",
        AT + timedelta(days=100),
        None,
    )
    assert history(database_url, case.case_id) == [
        ("preparing", 0, "case opened"),
        ("filed", 30, "filed at Pudong court"),
        ("hearing", 60, "first hearing"),
        ("hearing", 75, "adjourned: second hearing"),
        ("judgment", 90, "judgment for the lender"),
        ("enforcement", 100, ""),
    ]


@pytest.mark.parametrize(
    ("reached", "back"),
    [("filed", "preparing"), ("judgment", "hearing"), ("enforcement", "filed")],
)
def test_a_case_refuses_to_go_back_to_an_earlier_status(
    database_url: str, reached: str, back: str
) -> None:
    case = open_case(database_url)
    advance(database_url, case.case_id, reached, 10)
    with pytest.raises(legal.CaseStatusBackwards, match=f"is {reached}; it cannot go back"):
        advance(database_url, case.case_id, back, 20)
    assert [status for status, _, _ in history(database_url, case.case_id)] == [
        "preparing",
        reached,
    ]


def test_an_unknown_status_or_case_is_refused_with_a_clear_error(database_url: str) -> None:
    case = open_case(database_url)
    with pytest.raises(legal.UnknownCaseStatus, match="'appeal' is not a legal case status"):
        advance(database_url, case.case_id, "appeal", 5)
    with pytest.raises(legal.UnknownCase, match="No legal case LC-nope"):
        advance(database_url, "LC-nope", "filed", 5)
    assert len(history(database_url, case.case_id)) == 1


@pytest.mark.parametrize("status", [s for s in legal.CASE_STATUSES if s != legal.CLOSED])
def test_a_payment_in_full_closes_the_case_from_any_status(database_url: str, status: str) -> None:
    case = open_case(database_url)
    if status != "preparing":
        advance(database_url, case.case_id, status, 10)
    closed = advance(database_url, case.case_id, "closed", 20, "paid in full")
    assert (closed.status, closed.closed_at) == ("closed", AT + timedelta(days=20))
    assert history(database_url, case.case_id)[-1] == ("closed", 20, "paid in full")
    with pytest.raises(legal.CaseClosed, match="closed; it takes no more updates"):
        advance(database_url, case.case_id, "closed", 21)
    with pytest.raises(legal.CaseClosed), session_scope(database_url) as session:
        legal.note_case(session, case.case_id, AT + timedelta(days=22), "late note")
    with session_scope(database_url) as session:
        assert legal.open_case_for_loan(session, "L-1") is None


def test_opening_and_advancing_are_idempotent_by_action_and_key(database_url: str) -> None:
    case = open_case(database_url, seq=3)
    assert open_case(database_url, seq=3).case_id == case.case_id
    with session_scope(database_url) as session:
        for _attempt in range(2):
            legal.advance_case(session, case.case_id, "filed", AT, "filed", key="e:4:filed")
            legal.note_case(session, case.case_id, AT, "assets frozen", key="e:5:assets")
        assert len(legal.cases_for_loan(session, "L-1")) == 1
    assert history(database_url, case.case_id) == [
        ("preparing", 0, "case opened"),
        ("filed", 0, "filed"),
        ("filed", 0, "assets frozen"),
    ]
