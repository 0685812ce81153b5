"""Placements race for real: threads, each with its own session and connection, released at the
same instant by a barrier. On SQLite the writer lock serialises them; on PostgreSQL the row locks
on the agencies do (run with DATABASE_URL=postgresql+psycopg://... for that half)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from store import agencies as registry
from store.engine import session_scope
from tests.agencies.conftest import AT, active_counts, add_agency, place
from tests.race import race

PLACERS = 12


def test_concurrent_placements_never_exceed_any_agencys_capacity(database_url: str) -> None:
    small = add_agency(database_url, "Anhui Collect", capacity=2)
    large = add_agency(database_url, "Beijing Credit", capacity=3)

    def work(i: int) -> str | None:
        row = place(database_url, f"L-{i}", seq=1, episode=f"episode-{i:04d}")
        return None if row is None else row.agency_id

    results = race(PLACERS, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    placed = Counter(r for r in results if r is not None)
    assert placed == {small.agency_id: 2, large.agency_id: 3}
    assert results.count(None) == PLACERS - 5
    assert active_counts(database_url) == {small.agency_id: 2, large.agency_id: 3}


def test_concurrent_placements_keep_the_rotation_even(database_url: str) -> None:
    """Serialised placements rank on what the previous one wrote, so the rotation stays exact:
    with room everywhere, 12 accounts over 3 agencies is 4 each, however the threads interleave
    and whatever business instants they carry (here in reverse of any likely commit order)."""
    agencies = [add_agency(database_url, name) for name in ("Anhui", "Beijing", "Cathay")]

    def work(i: int) -> str | None:
        at = AT - timedelta(seconds=i)
        row = place(database_url, f"L-{i}", seq=1, episode=f"episode-{i:04d}", at=at)
        return None if row is None else row.agency_id

    results = race(PLACERS, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert Counter(results) == {a.agency_id: PLACERS // 3 for a in agencies}


def test_the_same_action_retried_concurrently_places_once(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    add_agency(database_url, "Beijing Credit")

    def work(_i: int) -> str | None:
        row = place(database_url, "L-1", seq=7)
        return None if row is None else row.placement_id

    results = race(6, work)
    assert results == [registry.placement_id_for("L-1", "episode-0001", 7)] * 6
    with session_scope(database_url) as session:
        assert len(registry.placements_for_loan(session, "L-1")) == 1
    assert sum(active_counts(database_url).values()) == 1
