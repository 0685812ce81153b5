"""Dispute and complaint cases in the explained timeline (audit/timeline/cases.py): what the
store's case actions say, in the borrower's local time; a person's free text (the reason,
evidence, notes) is withheld when the history is gone and the borrower's name cannot be scrubbed
from it; a resolution says what came off the balance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit.timeline.cases import case_entry, describe_case_message

AT = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


def _row(kind: str, seq: int, **detail: Any) -> dict[str, Any]:
    base = {"case_id": "L-1-abcd1234-C5", "case_kind": "dispute"}
    return {"kind": kind, "seq": seq, "at": AT, "detail": {**base, **detail}}


def test_a_case_opened_names_its_queue_and_its_deadline_in_the_borrowers_time() -> None:
    row = _row(
        "case_opened",
        5,
        reason="Wang Fang disputes the fee",
        by="alice",
        owner_queue="supervisor",
        deadline="2027-01-07T02:00:00+00:00",
    )
    entry = case_entry(row, "default@2", "Asia/Shanghai", withhold_notes=False)
    assert entry.kind == "case" and entry.ref == "action 5"
    assert entry.summary == (
        "dispute case L-1-abcd1234-C5 opened by alice for the supervisor queue, to be answered "
        "by 2027-01-07 10:00 Asia/Shanghai"
    )
    assert entry.reason == "Wang Fang disputes the fee"
    withheld = case_entry(row, "default@2", None, withhold_notes=True)
    assert withheld.reason is None


def test_an_upheld_case_says_what_came_off_the_balance_and_that_collection_resumes() -> None:
    row = _row(
        "case_resolved",
        9,
        resolution="upheld",
        by="carol",
        adjustment="25.37",
        balance_before="1210.00",
        balance_after="1184.63",
        currency="CNY",
        notes="fee reversed",
    )
    entry = case_entry(row, "default@2", "Asia/Shanghai", withhold_notes=True)
    assert entry.summary == (
        "dispute case L-1-abcd1234-C5 upheld by carol: 25.37 CNY off the balance "
        "(1210.00 → 1184.63)"
    )
    assert entry.reason == "the case's hold ends; collection resumes where the ladder stands"
    assert entry.inputs["adjustment"] == "25.37"


def test_an_overdue_case_is_an_escalation_and_the_history_messages_are_described() -> None:
    overdue = case_entry(
        _row("case_overdue", 7, deadline="2027-01-07T02:00:00+00:00"),
        "default@2",
        "Asia/Shanghai",
        withhold_notes=False,
    )
    assert overdue.summary.endswith("escalated to the supervisors")
    evidence = describe_case_message(
        "case_evidence",
        {"case_id": "C5", "text": "statement", "document": "DOC-1", "added_by": "carol"},
        {"kind": "dispute"},
    )
    assert evidence is not None and evidence[1] == (
        "evidence added to dispute case C5 by carol (document DOC-1)"
    )
    assert describe_case_message("add_hold", {}, {}) is None
