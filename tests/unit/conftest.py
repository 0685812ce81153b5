"""Fixtures for the domain unit tests: a valid account as the loan system sends it, and the
shipped public-holiday calendars (the unit tests name real dates they cover)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.contact import HolidayCalendars, active_calendars, use_calendars


@pytest.fixture(autouse=True)
def pinned_calendars() -> Iterator[HolidayCalendars]:
    """The shipped calendars (policy/calendars): every date a unit test names lies in a year
    they hold officially, so these tests pass on any day."""
    previous = use_calendars(HolidayCalendars.load())
    try:
        yield active_calendars()
    finally:
        use_calendars(previous)


@pytest.fixture
def account_payload() -> dict[str, Any]:
    return {
        "loan_id": "L-1001",
        "borrower": {
            "name": "Zhang San",
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "phones": [{"kind": "mobile", "number": "+8613800000000"}],
            "address": "1 Example Road, Shanghai",
            "consents": {"sms": True, "voice": True},
        },
        "contacts": [{"name": "Li Si", "relation": "spouse", "phone": "+8613912345678"}],
        "currency": "CNY",
        "instalments": [
            {"seq": 7, "due_date": "2026-12-01", "amount": "1200.00"},
            {"seq": 8, "due_date": "2027-01-01", "amount": "1200.00"},
        ],
        "penalty_rate_daily": "0.0005",
        "segment": "standard",
        "jurisdiction": "CN",
        "history": {"prior_delinquencies": 0, "ever_paid": True},
    }
