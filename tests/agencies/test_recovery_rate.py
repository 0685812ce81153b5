"""Choosing an agency by its recent recovery rate (issue 5, agency lifecycle): the agency that
brought back the largest share of what was placed with it gets the next account; a new agency
gets a chance first; old placements fall out of the window; a secondary placement skips the
agencies that already tried."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from store import agencies as registry
from store.engine import session_scope
from store.models import PaymentRow
from tests.agencies.conftest import AT, add_agency, place


def paid_to(url: str, placement: registry.PlacementRow, amount: str, n: int) -> None:
    with session_scope(url) as session:
        session.add(
            PaymentRow(
                loan_id=placement.loan_id,
                payment_id=f"P-{placement.loan_id}-{n}",
                amount=Decimal(amount),
                paid_at=AT + timedelta(days=5),
                agency_id=placement.agency_id,
                placement_id=placement.placement_id,
                commission=Decimal(amount) * placement.commission_rate,
            )
        )


def recall(url: str, loan_id: str) -> None:
    with session_scope(url) as session:
        registry.recall(session, loan_id, AT + timedelta(days=10), "test")


def choose(url: str, **kwargs: object) -> str | None:
    with session_scope(url) as session:
        chosen = registry.choose_agency(session, AT + timedelta(days=20), **kwargs)  # type: ignore[arg-type]
        return None if chosen is None else chosen.name


def test_the_agency_with_the_best_recent_recovery_rate_gets_the_next_account(
    database_url: str,
) -> None:
    add_agency(database_url, "Good Agency")
    add_agency(database_url, "Poor Agency")
    good = place(database_url, "L-RR-1", seq=1)
    poor = place(database_url, "L-RR-2", seq=2)
    assert good is not None and poor is not None
    assert good.agency_id != poor.agency_id  # round-robin gave one account to each
    paid_to(database_url, good, "1800.00", 1)  # half of the 3600 placed
    paid_to(database_url, poor, "360.00", 1)  # a tenth
    with session_scope(database_url) as session:
        rates = registry.recovery_rates(session, AT + timedelta(days=20))
        good_agency = session.get(registry.AgencyRow, good.agency_id)
        assert good_agency is not None
        good_name = good_agency.name
    assert rates == {good.agency_id: Decimal("0.5"), poor.agency_id: Decimal("0.1")}
    assert choose(database_url, selection=registry.RECOVERY_RATE) == good_name
    # Round-robin ignores results: the agency used longest ago (the good one) is next anyway,
    # so place once more with the good one and compare.
    again = place(database_url, "L-RR-5", seq=5)
    assert again is not None and again.agency_id == good.agency_id
    assert choose(database_url) != good_name
    assert choose(database_url, selection=registry.RECOVERY_RATE) == good_name


def test_a_new_agency_without_a_rate_is_tried_before_the_ranked_ones(database_url: str) -> None:
    add_agency(database_url, "Veteran Agency")
    veteran = place(database_url, "L-RR-3", seq=3)
    assert veteran is not None
    paid_to(database_url, veteran, "3600.00", 1)  # a perfect record
    add_agency(database_url, "Newcomer Agency")
    assert choose(database_url, selection=registry.RECOVERY_RATE) == "Newcomer Agency"


def test_placements_older_than_the_window_do_not_count(database_url: str) -> None:
    add_agency(database_url, "Old Agency")
    old = place(database_url, "L-RR-4", seq=4)
    assert old is not None
    paid_to(database_url, old, "3600.00", 1)
    with session_scope(database_url) as session:
        later = AT + timedelta(days=registry.RECOVERY_LOOKBACK_DAYS + 1)
        assert registry.recovery_rates(session, later) == {}
        assert registry.recovery_rates(session, AT + timedelta(days=1)) == {
            old.agency_id: Decimal(1)
        }


def test_a_secondary_placement_skips_the_agencies_that_already_tried(database_url: str) -> None:
    first = add_agency(database_url, "First Agency")
    add_agency(database_url, "Second Agency")
    assert choose(database_url, exclude=(first.agency_id,)) == "Second Agency"
    assert choose(database_url, exclude=(first.agency_id,), selection=registry.RECOVERY_RATE) == (
        "Second Agency"
    )
    with session_scope(database_url) as session:
        everyone = tuple(a.agency.agency_id for a in registry.list_agencies(session))
    assert choose(database_url, exclude=everyone) is None


def test_an_unknown_selection_is_refused(database_url: str) -> None:
    add_agency(database_url, "Any Agency")
    with pytest.raises(ValueError, match="lottery"):
        choose(database_url, selection="lottery")
