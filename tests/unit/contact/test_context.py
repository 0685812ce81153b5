"""Borrower context: the zones a contact must respect and the holiday country."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from phonenumbers import timezone as phone_timezone
from pydantic import ValidationError

from domain.contact import BorrowerContext, phone_area_zones, zones_for_contact

from .support import CN_CTX, CN_MOBILE, LA_PHONE, NY_CTX, NY_PHONE


def test_zones_for_contact_are_the_address_zone_then_the_area_code_zones() -> None:
    assert zones_for_contact(NY_CTX, LA_PHONE) == ["America/New_York", "America/Los_Angeles"]
    assert zones_for_contact(NY_CTX, NY_PHONE) == ["America/New_York"]
    assert zones_for_contact(NY_CTX, None) == ["America/New_York"]
    assert zones_for_contact(CN_CTX, CN_MOBILE) == ["Asia/Shanghai"]


def test_numbers_not_tied_to_a_place_add_no_zone() -> None:
    assert phone_area_zones("+18005550123") == ()  # toll free: every North American zone
    assert phone_area_zones("+80012345678") == ()  # international freephone: Etc/Unknown


@pytest.fixture
def odd_zones(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        phone_timezone,
        "time_zones_for_number",
        lambda number: ("Etc/Unknown", "Not/A_Zone", "America/Chicago", "America/Chicago"),
    )
    phone_area_zones.cache_clear()
    yield
    phone_area_zones.cache_clear()


@pytest.mark.usefixtures("odd_zones")
def test_unknown_and_invalid_zone_names_are_ignored() -> None:
    assert zones_for_contact(NY_CTX, "+13125550123") == ["America/New_York", "America/Chicago"]


def test_context_from_a_jurisdiction_code() -> None:
    ctx = BorrowerContext.for_jurisdiction("us-ma", "America/New_York", ["+1 617 555 0123"])
    assert (ctx.country, ctx.subdivision, ctx.phones) == ("US", "MA", ["+16175550123"])
    cn = BorrowerContext.for_jurisdiction("CN", "Asia/Shanghai", [CN_MOBILE])
    assert (cn.country, cn.subdivision) == ("CN", None)


def test_context_refuses_unknown_zones_countries_and_subdivisions() -> None:
    with pytest.raises(ValidationError, match="IANA"):
        BorrowerContext(timezone="Mars/Olympus", phones=[], country="CN")
    with pytest.raises(ValidationError, match="no public-holiday calendar"):
        BorrowerContext(timezone="Asia/Shanghai", phones=[], country="XX")
    with pytest.raises(ValidationError, match="not a subdivision"):
        BorrowerContext(timezone="America/New_York", phones=[], country="US", subdivision="ZZ")
