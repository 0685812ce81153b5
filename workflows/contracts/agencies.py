"""Contacts an outside agency made with the borrower, relayed from its daily contact file: the
`agency_contacts` update's payload."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.account import PhoneNumber

__all__ = [
    "AGENCY_RESULTS",
    "AgencyContact",
    "AgencyContactChannel",
    "AgencyContactResult",
    "AgencyContactsRequest",
    "AgencyContactsResult",
]


AgencyContactChannel = Literal["call", "sms", "field_visit", "letter"]
AgencyContactResult = Literal["connected", "unanswered", "sent", "failed", "visited", "not_met"]
# What each channel's contact can have come to (the contact ledger's words).
AGENCY_RESULTS: dict[str, frozenset[str]] = {
    "call": frozenset({"connected", "unanswered", "failed"}),
    "sms": frozenset({"sent", "failed"}),
    "letter": frozenset({"sent", "failed"}),
    "field_visit": frozenset({"visited", "not_met"}),
}


class AgencyContact(BaseModel):
    """One contact an outside agency made with the borrower, as its daily contact file reports
    it (relayed by the bank's systems). It joins the account's contact ledger with actor
    `agency`, so the caps count our collectors and the agencies together (the cn rule: at most
    3 connected calls per borrower per day, all actors)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "HT-20261205-000731",
                    "agency_id": "AG-3f2a91",
                    "at": "2026-12-05T02:15:00Z",
                    "channel": "call",
                    "number": "+8613800138000",
                    "result": "connected",
                }
            ]
        },
    )

    contact_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the agency's id of the contact: the same (agency_id, contact_id) counts once",
    )
    agency_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    at: AwareDatetime = Field(description="when the contact happened (with its UTC offset)")
    channel: AgencyContactChannel
    number: PhoneNumber | None = Field(
        default=None, description="E.164; required for a call or SMS, none for a letter or visit"
    )
    result: AgencyContactResult

    @model_validator(mode="after")
    def _coherent(self) -> AgencyContact:
        allowed = AGENCY_RESULTS[self.channel]
        if self.result not in allowed:
            raise ValueError(
                f"A {self.channel} cannot have result {self.result!r}; use one of "
                f"{', '.join(sorted(allowed))}."
            )
        if self.channel in ("call", "sms") and self.number is None:
            raise ValueError(
                f"A {self.channel} needs the number dialled or texted (E.164): the caps count "
                "attempts per number."
            )
        if self.channel in ("letter", "field_visit") and self.number is not None:
            raise ValueError(f"A {self.channel} goes to an address; leave number empty.")
        return self

    @property
    def key(self) -> str:
        """The idempotency key: an agency's contact ids are its own."""
        return f"{self.agency_id}:{self.contact_id}"


class AgencyContactsRequest(BaseModel):
    """Agencies' contacts for the account: the `agency_contacts` update."""

    contacts: list[AgencyContact] = Field(min_length=1, max_length=500)
    reported_by: str


class AgencyContactsResult(BaseModel):
    """What the `agency_contacts` update did: contacts new to the ledger, and those counted
    before (the same agency and contact id)."""

    recorded: int
    duplicates: int
