"""Where the borrower is: the address's time zone, the phones, the country for holidays."""

from __future__ import annotations

from functools import cache
from typing import Self

import holidays
import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone
from pydantic import BaseModel, Field, field_validator, model_validator

from domain.account import PhoneNumber
from domain.calendar import validate_timezone, zone

__all__ = ["BorrowerContext", "phone_area_zones", "zones_for_contact"]

# Numbers not tied to a place: their "zones" are every zone of the numbering plan, which says
# nothing about where the person is.
_PLACELESS = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
}


@cache
def _supported_countries() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


class BorrowerContext(BaseModel):
    """`timezone`: the address's IANA zone; `phones`: the borrower's numbers (E.164);
    `country` (ISO 3166, e.g. CN, US) and `subdivision` (e.g. MA) choose the public holidays."""

    timezone: str
    phones: list[PhoneNumber] = Field(default_factory=list)
    country: str
    subdivision: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("subdivision")
    @classmethod
    def _upper_subdivision(cls, value: str | None) -> str | None:
        return value.strip().upper() if value is not None else None

    @model_validator(mode="after")
    def _holidays_known(self) -> Self:
        supported = _supported_countries()
        if self.country not in supported:
            raise ValueError(
                f"The country {self.country!r} has no public-holiday calendar; use an ISO 3166 "
                "code such as CN or US."
            )
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(
                f"{self.subdivision!r} is not a subdivision of {self.country} with a "
                "public-holiday calendar."
            )
        return self

    @classmethod
    def for_jurisdiction(
        cls, jurisdiction: str, timezone: str, phones: list[str]
    ) -> BorrowerContext:
        """Context from a jurisdiction code as accounts carry it: `CN`, `US`, `US-MA`."""
        country, _, subdivision = jurisdiction.strip().upper().partition("-")
        return cls(
            timezone=timezone, phones=phones, country=country, subdivision=subdivision or None
        )


@cache
def phone_area_zones(number: str) -> tuple[str, ...]:
    """The IANA zones of a number's area code (empty when unknown or not tied to a place)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    if phonenumbers.number_type(parsed) in _PLACELESS:
        return ()
    found: list[str] = []
    for name in phone_timezone.time_zones_for_number(parsed):
        if name == "Etc/Unknown" or name in found:
            continue
        try:
            zone(name)
        except ValueError:
            continue
        found.append(name)
    return tuple(found)


def zones_for_contact(ctx: BorrowerContext, number: str | None) -> list[str]:
    """Every zone the borrower may be in for a contact: the address's zone first, then the
    area-code zones of the number (for a call or text), without repeats."""
    zones = [ctx.timezone]
    if number is not None:
        zones += [z for z in phone_area_zones(number) if z != ctx.timezone]
    return zones


# phonenumbers loads its time-zone tables lazily; load them now, outside any workflow sandbox.
phone_area_zones("+12125550123")
