"""The agency registry and placements (store/agencies.py): who gets the next account, capacity,
idempotent placement by action, recall."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlmodel import col

from store import agencies as registry
from store.engine import session_scope
from tests.agencies.conftest import AT, active_counts, add_agency, place


def agency_names(url: str, placements: list[registry.PlacementRow | None]) -> list[str]:
    with session_scope(url) as session:
        names = {a.agency.agency_id: a.agency.name for a in registry.list_agencies(session)}
    return [names[p.agency_id] if p is not None else "-" for p in placements]


def test_round_robin_takes_the_never_used_agencies_first_by_name_then_the_least_recently_used(
    database_url: str,
) -> None:
    # Registered out of name order: the name, not the registration, breaks ties.
    for name in ("Cathay Recovery", "Anhui Collect", "Beijing Credit"):
        add_agency(database_url, name)
    placed = [place(database_url, f"L-{i}", seq=i, at=AT + timedelta(hours=i)) for i in range(7)]
    assert agency_names(database_url, placed) == [
        "Anhui Collect",
        "Beijing Credit",
        "Cathay Recovery",
        "Anhui Collect",
        "Beijing Credit",
        "Cathay Recovery",
        "Anhui Collect",
    ]


@pytest.mark.parametrize("order", ["same instant", "instants out of order"])
def test_a_batch_placed_at_one_instant_or_out_of_order_still_rotates(
    database_url: str, order: str
) -> None:
    """Many accounts reach the placement DPD at the same 10:00, and a retried activity keeps its
    original instant: the rotation follows the order placements are made in, not their instants
    (ranking by instant would give every tie to the first name)."""
    for name in ("Anhui Collect", "Beijing Credit"):
        add_agency(database_url, name)
    offsets = [0] * 6 if order == "same instant" else [5, 0, 4, 1, 3, 2]
    placed = [
        place(database_url, f"L-{i}", seq=i, at=AT + timedelta(hours=h))
        for i, h in enumerate(offsets)
    ]
    assert agency_names(database_url, placed) == ["Anhui Collect", "Beijing Credit"] * 3


def test_a_newly_registered_agency_is_next_because_it_was_never_used(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    add_agency(database_url, "Beijing Credit")
    first = [place(database_url, f"L-{i}", seq=i, at=AT + timedelta(hours=i)) for i in range(2)]
    add_agency(database_url, "Zhejiang Assets")
    later = place(database_url, "L-9", seq=9, at=AT + timedelta(hours=3))
    assert agency_names(database_url, [*first, later]) == [
        "Anhui Collect",
        "Beijing Credit",
        "Zhejiang Assets",
    ]


def test_a_full_agency_is_skipped_and_when_every_agency_is_full_nothing_is_placed(
    database_url: str,
) -> None:
    small = add_agency(database_url, "Anhui Collect", capacity=1)
    large = add_agency(database_url, "Beijing Credit", capacity=2)
    placed = [place(database_url, f"L-{i}", seq=i, at=AT + timedelta(hours=i)) for i in range(4)]
    assert agency_names(database_url, placed) == [
        "Anhui Collect",
        "Beijing Credit",
        "Beijing Credit",  # Anhui's single slot is taken, though it was used longer ago
        "-",
    ]
    assert active_counts(database_url) == {small.agency_id: 1, large.agency_id: 2}


def test_an_inactive_agency_gets_no_placements(database_url: str) -> None:
    dormant = add_agency(database_url, "Anhui Collect")
    add_agency(database_url, "Beijing Credit")
    with session_scope(database_url) as session:
        session.connection().execute(
            update(registry.AgencyRow)
            .where(col(registry.AgencyRow.agency_id) == dormant.agency_id)
            .values(active=False)
        )
    placed = [place(database_url, f"L-{i}", seq=i, at=AT + timedelta(hours=i)) for i in range(3)]
    assert agency_names(database_url, placed) == ["Beijing Credit"] * 3


def test_with_an_empty_registry_a_placement_is_refused_not_invented(database_url: str) -> None:
    assert place(database_url, "L-1") is None
    with session_scope(database_url) as session:
        assert registry.placements_for_loan(session, "L-1") == []


def test_the_placement_period_runs_from_the_actions_business_instant(database_url: str) -> None:
    agency = add_agency(database_url, "Anhui Collect", rate="0.215")
    default = place(database_url, "L-1", seq=1)
    short = place(database_url, "L-2", seq=2, days=30)
    assert default is not None and short is not None
    assert (default.placed_at, default.period_end) == (AT, AT + timedelta(days=90))
    assert short.period_end == AT + timedelta(days=30)
    assert default.agency_id == agency.agency_id
    assert default.commission_rate == Decimal("0.215")  # the rate the placement earns
    assert default.amount_placed == Decimal("3600.00")
    with pytest.raises(ValueError, match="at least one day"):
        place(database_url, "L-3", seq=3, days=0)


def test_a_retried_placement_places_once_and_does_not_move_the_rotation(
    database_url: str,
) -> None:
    add_agency(database_url, "Anhui Collect")
    add_agency(database_url, "Beijing Credit")
    first = place(database_url, "L-1", seq=4)
    again = place(database_url, "L-1", seq=4, at=AT + timedelta(minutes=5))  # a later attempt
    assert first is not None and again is not None
    assert again.placement_id == first.placement_id
    assert again.placed_at == AT  # the first attempt's record, not the retry's
    with session_scope(database_url) as session:
        assert len(registry.placements_for_loan(session, "L-1")) == 1
    assert sum(active_counts(database_url).values()) == 1
    other = place(database_url, "L-2", seq=1, at=AT + timedelta(hours=1))
    assert agency_names(database_url, [first, other]) == ["Anhui Collect", "Beijing Credit"]


def test_a_loan_with_an_agency_is_not_placed_again_until_it_is_recalled(
    database_url: str,
) -> None:
    add_agency(database_url, "Anhui Collect")
    add_agency(database_url, "Beijing Credit")
    first = place(database_url, "L-1", seq=1)
    assert first is not None
    with pytest.raises(registry.PlacementConflict, match="already placed"):
        place(database_url, "L-1", seq=2, at=AT + timedelta(days=1))
    with session_scope(database_url) as session:
        registry.recall(session, "L-1", AT + timedelta(days=2), "agency recovered nothing")
    second = place(database_url, "L-1", seq=3, at=AT + timedelta(days=3))
    assert second is not None
    assert second.agency_id != first.agency_id  # the secondary agency: the other one is next


def test_recall_before_the_period_ends_marks_the_placement_recalled_and_frees_capacity(
    database_url: str,
) -> None:
    agency = add_agency(database_url, "Anhui Collect", capacity=1)
    placed = place(database_url, "L-1", seq=1)
    assert placed is not None
    assert place(database_url, "L-2", seq=1, episode="episode-0002") is None  # full
    recalled_at = AT + timedelta(days=10)
    with session_scope(database_url) as session:
        row = registry.recall(session, "L-1", recalled_at, "bankruptcy reported")
        assert registry.active_placement(session, "L-1") is None
    assert row is not None
    assert (row.placement_id, row.status) == (placed.placement_id, registry.RECALLED)
    assert (row.recalled_at, row.recall_reason) == (recalled_at, "bankruptcy reported")
    assert active_counts(database_url) == {}
    now_placed = place(database_url, "L-2", seq=1, episode="episode-0002", at=recalled_at)
    assert now_placed is not None and now_placed.agency_id == agency.agency_id


def test_recall_at_the_end_of_the_period_marks_the_placement_ended(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    placed = place(database_url, "L-1", seq=1, days=90)
    assert placed is not None and placed.period_end is not None
    with session_scope(database_url) as session:
        row = registry.recall(session, "L-1", placed.period_end, "placement period ended")
    assert row is not None and row.status == registry.ENDED


def test_recalling_a_loan_that_is_not_placed_changes_nothing(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    place(database_url, "L-1", seq=1)
    with session_scope(database_url) as session:
        assert registry.recall(session, "L-2", AT, "not placed") is None
        assert registry.recall(session, "L-1", AT, "first") is not None
        assert registry.recall(session, "L-1", AT, "second") is None  # already recalled
        (only,) = registry.placements_for_loan(session, "L-1")
    assert only.recall_reason == "first"


@pytest.mark.parametrize(
    ("rate", "capacity", "message"),
    [
        ("0", 10, "between 0 and 1"),
        ("1", 10, "between 0 and 1"),
        ("-0.1", 10, "between 0 and 1"),
        ("NaN", 10, "between 0 and 1"),
        ("0.123456", 10, "5 decimal places"),
        ("0.18", 0, "at least 1"),
    ],
)
def test_the_registry_refuses_a_commission_outside_0_to_1_or_a_capacity_below_1(
    database_url: str, rate: str, capacity: int, message: str
) -> None:
    with pytest.raises(registry.InvalidAgency, match=message), session_scope(database_url) as s:
        registry.add_agency(s, "Anhui Collect", Decimal(rate), capacity, AT)
    with session_scope(database_url) as session:
        assert registry.list_agencies(session) == []


def test_agency_names_are_unique_after_whitespace_is_normalised(database_url: str) -> None:
    add_agency(database_url, "Anhui Collect")
    with pytest.raises(registry.DuplicateAgency, match="already registered"):
        add_agency(database_url, "  Anhui   Collect ")
