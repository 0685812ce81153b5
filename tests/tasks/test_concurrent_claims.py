"""Claims race for real: N threads, each with its own session and connection, released at the
same instant by a barrier. Runs on SQLite (conditional UPDATE under the writer lock) and on
PostgreSQL (row locks; SKIP LOCKED for claim_next) when DATABASE_URL names one."""

from __future__ import annotations

from decimal import Decimal

from store import tasks as queue
from store.engine import session_scope
from tests.race import race
from tests.tasks.conftest import NOW, add_task, task_row

CLAIMERS = 8


def test_many_collectors_claiming_one_task_at_once_exactly_one_wins(database_url: str) -> None:
    add_task(database_url, "contested")
    users = [f"collector-{i}" for i in range(CLAIMERS)]

    def claim(i: int) -> str | None:
        with session_scope(database_url) as session:
            return queue.claim_task(session, "contested", users[i], NOW).assignee

    results = race(CLAIMERS, claim)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == CLAIMERS - 1
    assert all(isinstance(e, queue.TaskHeld) and e.assignee == winners[0] for e in losers), losers
    stored = task_row(database_url, "contested")
    assert stored is not None and stored.assignee == winners[0]


def test_the_same_collector_claiming_twice_at_once_gets_the_task_both_times(
    database_url: str,
) -> None:
    add_task(database_url, "mine")

    def claim(_i: int) -> str | None:
        with session_scope(database_url) as session:
            return queue.claim_task(session, "mine", "alice", NOW).assignee

    assert race(4, claim) == ["alice"] * 4


def test_claim_next_with_two_collectors_at_once_never_hands_out_the_same_task(
    database_url: str,
) -> None:
    tasks = 12
    for i in range(tasks):
        add_task(database_url, f"t{i:02d}", priority=Decimal(100 + i))
    users = ["alice", "bob"]
    rounds = tasks // 2 + 2  # more asks than tasks: the queue runs dry under contention

    def drain(i: int) -> list[str]:
        got: list[str] = []
        for _ in range(rounds):
            with session_scope(database_url) as session:
                row = queue.claim_next(session, users[i], NOW)
                if row is not None:
                    assert row.assignee == users[i]
                    got.append(row.task_id)
        return got

    results = race(2, drain)
    assert all(isinstance(r, list) for r in results), results
    alice, bob = results
    assert isinstance(alice, list) and isinstance(bob, list)
    assert not set(alice) & set(bob)
    assert sorted(alice + bob) == [f"t{i:02d}" for i in range(tasks)]
    for user, claimed in (("alice", alice), ("bob", bob)):
        for task_id in claimed:
            stored = task_row(database_url, task_id)
            assert stored is not None and stored.assignee == user


def test_two_people_recording_different_outcomes_at_once_only_one_is_stored(
    database_url: str,
) -> None:
    from domain.outcomes import OutcomeIn

    add_task(database_url, "reported")
    outcomes = [OutcomeIn(outcome="no_answer"), OutcomeIn(outcome="busy")]

    def record(i: int) -> str:
        with session_scope(database_url) as session:
            row = queue.record_outcome(session, "reported", outcomes[i], f"user-{i}", NOW)
            return str((row.outcome or {})["outcome"])

    results = race(2, record)
    stored = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(stored) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], queue.OutcomeConflict)
    row = task_row(database_url, "reported")
    assert row is not None and row.outcome == {"outcome": stored[0]}
