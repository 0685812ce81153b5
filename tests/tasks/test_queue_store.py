"""store/tasks.py on its own: what the queue shows, in what order, and how claims and outcomes
behave one at a time (the races are in test_concurrent_claims.py). Runs on SQLite, and on
PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.outcomes import OutcomeIn
from store import tasks as queue
from store.engine import as_utc, session_scope
from tests.tasks.conftest import NOW, add_task, task_row

NO_ANSWER = OutcomeIn(outcome="no_answer")
BUSY = OutcomeIn(outcome="busy")


def listed(database_url: str, **kwargs: object) -> list[str]:
    with session_scope(database_url) as session:
        return [row.task_id for row in queue.open_tasks(session, NOW, **kwargs)]  # type: ignore[arg-type]


def test_only_tasks_whose_window_is_open_now_are_listed(database_url: str) -> None:
    hour = timedelta(hours=1)
    add_task(database_url, "open-now")
    add_task(database_url, "opens-exactly-now", not_before=NOW)
    add_task(database_url, "no-bounds", not_before=None, not_after=None)
    add_task(database_url, "later-today", not_before=NOW + hour, not_after=NOW + 2 * hour)
    add_task(database_url, "closes-exactly-now", not_before=NOW - hour, not_after=NOW)
    add_task(database_url, "expired-window", not_before=NOW - 3 * hour, not_after=NOW - hour)
    add_task(database_url, "done", status="done")

    assert set(listed(database_url)) == {"open-now", "opens-exactly-now", "no-bounds"}
    with_future = set(listed(database_url, include_future=True))
    assert with_future == {"open-now", "opens-exactly-now", "no-bounds", "later-today"}
    assert listed(database_url, status="done") == ["done"]


def test_now_is_compared_as_an_instant_whatever_its_offset(database_url: str) -> None:
    from zoneinfo import ZoneInfo

    # The store holds UTC (store/engine.py); SQLite keeps no offset, so a caller's local "now"
    # must be converted before it is compared. 11:00 Shanghai is NOW (03:00 UTC).
    add_task(
        database_url,
        "first-slot",
        not_before=NOW - timedelta(minutes=30),
        not_after=NOW + timedelta(minutes=30),
    )
    shanghai = ZoneInfo("Asia/Shanghai")
    with session_scope(database_url) as session:
        local_now = NOW.astimezone(shanghai)
        assert [r.task_id for r in queue.open_tasks(session, local_now)] == ["first-slot"]
        assert queue.open_tasks(session, local_now + timedelta(minutes=31)) == []
        assert queue.open_tasks(session, local_now - timedelta(minutes=31)) == []


def test_order_is_promise_due_today_then_overdue_times_stage_risk_then_deadline_then_id(
    database_url: str,
) -> None:
    today = NOW.date()
    soon, later = NOW + timedelta(minutes=30), NOW + timedelta(hours=2)
    add_task(database_url, "front-1000-late", priority=Decimal("1000"), not_after=later)
    add_task(database_url, "front-1000-soon", priority=Decimal("1000"), not_after=soon)
    add_task(database_url, "front-1000-late-b", priority=Decimal("1000"), not_after=later)
    add_task(
        database_url,
        "mid-600",  # 600 × 2 = 1200 beats 1000 × 1
        priority=Decimal("600"),
        detail={"stage": "mid_range"},
    )
    add_task(
        database_url,
        "legal-100-promise-today",  # 400, but a promise falls due today
        priority=Decimal("100"),
        detail={"stage": "legal", "promise_due": today.isoformat()},
    )
    add_task(
        database_url,
        "front-50-promise-tomorrow",  # tomorrow's promise is no reason to jump the queue
        priority=Decimal("50"),
        detail={"stage": "front_end", "promise_due": (today + timedelta(days=1)).isoformat()},
    )
    add_task(
        database_url,
        "hard-300",  # 300 × 3 = 900
        priority=Decimal("300"),
        detail={"stage": "hard_core"},
    )
    assert listed(database_url, today=today) == [
        "legal-100-promise-today",
        "mid-600",
        "front-1000-soon",
        "front-1000-late",
        "front-1000-late-b",
        "hard-300",
        "front-50-promise-tomorrow",
    ]


def test_a_collector_sees_their_own_and_unassigned_tasks_a_supervisor_sees_all(
    database_url: str,
) -> None:
    add_task(database_url, "alices", assignee="alice")
    add_task(database_url, "bobs", assignee="bob")
    add_task(database_url, "nobodys")
    assert set(listed(database_url, viewer="alice")) == {"alices", "nobodys"}
    assert set(listed(database_url)) == {"alices", "bobs", "nobodys"}
    assert listed(database_url, assignee="bob") == ["bobs"]
    assert listed(database_url, viewer="alice", assignee="alice") == ["alices"]


def test_kind_filter_and_limit(database_url: str) -> None:
    add_task(database_url, "call-a", priority=Decimal("10"))
    add_task(database_url, "call-b", priority=Decimal("20"))
    add_task(database_url, "visit", kind="field_visit")
    add_task(database_url, "approval", kind="approval")
    assert listed(database_url, kind="field_visit") == ["visit"]
    assert listed(database_url, kind="call", limit=1) == ["call-b"]
    assert "approval" not in listed(database_url, exclude_kinds=("approval",))


def test_claim_assigns_the_task_and_claiming_it_again_changes_nothing(database_url: str) -> None:
    add_task(database_url, "t1")
    with session_scope(database_url) as session:
        first = queue.claim_task(session, "t1", "alice", NOW)
    assert first.assignee == "alice" and as_utc(first.claimed_at) == NOW
    with session_scope(database_url) as session:
        again = queue.claim_task(session, "t1", "alice", NOW + timedelta(minutes=5))
    assert again.assignee == "alice" and as_utc(again.claimed_at) == NOW


def test_claiming_a_task_held_by_someone_else_closed_or_unknown_is_refused(
    database_url: str,
) -> None:
    add_task(database_url, "held", assignee="bob", claimed_at=NOW)
    add_task(database_url, "expired", status="expired")
    with session_scope(database_url) as session, pytest.raises(queue.TaskHeld) as held:
        queue.claim_task(session, "held", "alice", NOW)
    assert held.value.assignee == "bob"
    with session_scope(database_url) as session, pytest.raises(queue.TaskClosed):
        queue.claim_task(session, "expired", "alice", NOW)
    with session_scope(database_url) as session, pytest.raises(queue.UnknownTask):
        queue.claim_task(session, "nope", "alice", NOW)
    stored = task_row(database_url, "held")
    assert stored is not None and stored.assignee == "bob"


def test_claim_next_takes_the_best_unassigned_task_and_none_when_empty(database_url: str) -> None:
    add_task(database_url, "small", priority=Decimal("10"))
    add_task(database_url, "big", priority=Decimal("5000"), assignee="bob")
    add_task(database_url, "medium", priority=Decimal("500"))
    add_task(database_url, "future", priority=Decimal("9999"), not_before=NOW + timedelta(hours=1))
    with session_scope(database_url) as session:
        got = queue.claim_next(session, "alice", NOW)
        assert got is not None and got.task_id == "medium" and got.assignee == "alice"
    with session_scope(database_url) as session:
        got = queue.claim_next(session, "alice", NOW)
        assert got is not None and got.task_id == "small"
    with session_scope(database_url) as session:
        assert queue.claim_next(session, "alice", NOW) is None


def test_record_outcome_closes_the_task_and_the_same_outcome_again_changes_nothing(
    database_url: str,
) -> None:
    add_task(database_url, "t1")
    with session_scope(database_url) as session:
        done = queue.record_outcome(session, "t1", NO_ANSWER, "alice", NOW)
    assert done.status == "done" and done.outcome == {"outcome": "no_answer"}
    assert done.assignee == "alice" and done.outcome_by == "alice"
    assert as_utc(done.outcome_at) == NOW and as_utc(done.closed_at) == NOW
    with session_scope(database_url) as session:
        again = queue.record_outcome(session, "t1", NO_ANSWER, "alice", NOW + timedelta(hours=1))
    assert as_utc(again.outcome_at) == NOW


def test_a_different_outcome_for_a_done_task_or_any_outcome_for_an_expired_one_is_refused(
    database_url: str,
) -> None:
    add_task(database_url, "t1")
    add_task(database_url, "gone", status="expired")
    with session_scope(database_url) as session:
        queue.record_outcome(session, "t1", NO_ANSWER, "alice", NOW)
    with session_scope(database_url) as session, pytest.raises(queue.OutcomeConflict):
        queue.record_outcome(session, "t1", BUSY, "alice", NOW)
    with session_scope(database_url) as session, pytest.raises(queue.TaskClosed):
        queue.record_outcome(session, "gone", NO_ANSWER, "alice", NOW)
    with session_scope(database_url) as session, pytest.raises(queue.UnknownTask):
        queue.record_outcome(session, "nope", NO_ANSWER, "alice", NOW)
    stored = task_row(database_url, "t1")
    assert stored is not None and stored.outcome == {"outcome": "no_answer"}


def test_release_gives_back_only_the_claim_it_made(database_url: str) -> None:
    add_task(database_url, "t1")
    with session_scope(database_url) as session:
        queue.claim_task(session, "t1", "alice", NOW)
    with session_scope(database_url) as session:
        assert not queue.release_task(session, "t1", "alice", NOW + timedelta(seconds=1))
        assert not queue.release_task(session, "t1", "bob", NOW)
        assert queue.release_task(session, "t1", "alice", NOW)
    stored = task_row(database_url, "t1")
    assert stored is not None and stored.assignee is None and stored.claimed_at is None


def test_priority_score_is_overdue_amount_times_stage_risk() -> None:
    from store.models import TaskRow

    def score(stage: str | None) -> Decimal:
        row = TaskRow(
            task_id="x",
            loan_id="L",
            episode="e",
            action_seq=1,
            kind="call",
            priority=Decimal("250"),
            detail={"stage": stage} if stage else {},
        )
        return queue.priority_score(row)

    assert [score(s) for s in ("front_end", "mid_range", "hard_core", "legal")] == [
        Decimal("250"),
        Decimal("500"),
        Decimal("750"),
        Decimal("1000"),
    ]
    assert score(None) == score("pre_due") == Decimal("250")
