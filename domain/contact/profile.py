"""Contact profiles: a jurisdiction's contact rules as data (`policy/profiles/*.yaml`).

A profile says *which* limits apply (window hours, caps, counted channels, third-party policy,
holiday channels, what an SMS must carry); `domain.contact.decide` says *how* they are applied.
Holds and consent are the same everywhere and live in code (`holds.py`, `decide.py`).

Profiles are read once per process and cached: they are read-only. Reading a profile is the
only I/O of this package, and it happens at import (outside any workflow sandbox), so a broken
profile stops the worker at start instead of failing an account months later.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.contact.vocabulary import Channel, Party, Purpose, Result
from domain.documents import parse_document

__all__ = [
    "PROFILES_DIR",
    "PROFILE_NAMES",
    "AfterConversation",
    "Cap",
    "ContactProfile",
    "HolidayPolicy",
    "ProfileError",
    "ThirdPartyPolicy",
    "TimeWindow",
    "known_jurisdictions",
    "load_profile",
    "parse_profile",
    "profile_for",
]

PROFILES_DIR = Path(__file__).resolve().parents[2] / "policy" / "profiles"
PROFILE_NAMES: tuple[str, ...] = ("cn", "us-regf", "us-ma")

_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and every bad field."""


class _Policy(BaseModel):
    # A misspelt key in a rules file must be an error, never a silently ignored rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Policy):
    """A rule with a stable dotted name: what a refusal and an audit finding are called."""

    rule: str
    description: str = ""

    @field_validator("rule")
    @classmethod
    def _rule_name(cls, value: str) -> str:
        if not _RULE_NAME.match(value):
            raise ValueError(f"rule name {value!r} must look like 'us_regf.call_window'")
        return value


def _unique(values: list[Any], what: str) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} lists a value twice: {values}")
    return values


class TimeWindow(_Rule):
    """Contacts on `channels` only at local wall-clock times in [start, end).

    The borrower's address zone always counts; with `phone_area_zones` the zones of the dialled
    number's area code count too, and the window must hold in every one of them.
    """

    start: time
    end: time
    channels: list[Channel] = Field(min_length=1)
    phone_area_zones: bool = False

    @field_validator("start", "end", mode="before")
    @classmethod
    def _wall_clock(cls, value: Any) -> Any:
        # YAML reads an unquoted 21:00 as the number 1260, which pydantic would take as seconds.
        if isinstance(value, time):
            return value
        if not isinstance(value, str) or not _CLOCK.match(value):
            raise ValueError(f'{value!r} is not a local time like "08:00" (quote it in YAML)')
        return value

    @field_validator("channels")
    @classmethod
    def _no_repeats(cls, value: list[Channel]) -> list[Channel]:
        return _unique(value, "channels")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(
                f"window {self.start:%H:%M}-{self.end:%H:%M} must end after it starts "
                "(write quiet hours 22:00-08:00 as the window 08:00-22:00)"
            )
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Cap(_Rule):
    """At most `max` matching contacts in any `days` consecutive local calendar days.

    A record matches when its channel is in `channels`, its result in `results` (all results
    when omitted) and its party in `parties` (all parties when omitted). `per: account` counts
    the whole account; `per: number` counts only contacts to the same phone number. The cap
    applies to a proposed contact on one of `channels` to one of `parties`: because the outcome
    of a contact is not known in advance, it is refused once `max` matches are already there.
    """

    max: int = Field(ge=1)
    days: int = Field(ge=1, le=31)
    channels: list[Channel] = Field(min_length=1)
    results: list[Result] | None = None
    parties: list[Party] | None = None
    per: Literal["account", "number"] = "account"

    def counts(self, channel: str, party: str, result: str) -> bool:
        return (
            channel in self.channels
            and (self.parties is None or party in self.parties)
            and (self.results is None or result in self.results)
        )

    def applies_to(self, channel: str, party: str) -> bool:
        return channel in self.channels and (self.parties is None or party in self.parties)

    def what(self) -> str:
        kinds = "/".join(self.channels)
        results = f" {'/'.join(self.results)}" if self.results else ""
        scope = " per number" if self.per == "number" else ""
        period = "local day" if self.days == 1 else f"{self.days} consecutive local days"
        return f"at most {self.max}{results} {kinds} contacts{scope} per {period}"


def _borrower_only() -> list[Party]:
    return ["borrower"]


def _phone_calls() -> list[Channel]:
    return ["call", "voice"]


class AfterConversation(_Rule):
    """No contact on `channels` for `days` local days after a telephone conversation.

    The conversation's local day is day 1, so contact is allowed again on day `days + 1`.
    """

    days: int = Field(ge=1, le=31)
    channels: list[Channel] = Field(min_length=1)
    parties: list[Party] = Field(default_factory=_borrower_only)
    conversation_channels: list[Channel] = Field(default_factory=_phone_calls)


class ThirdPartyPolicy(_Rule):
    """What a contact with party `third_party` (not liable for the debt) may be.

    `only_when_unreachable`: only when every borrower number is dead, the last
    `failed_attempts_in_a_row` calls to the borrower all failed, or the borrower is deceased.
    """

    purposes: list[Purpose] = Field(min_length=1)
    only_when_unreachable: bool = False
    failed_attempts_in_a_row: int = Field(default=3, ge=1)
    mention_debt: bool = False


class HolidayPolicy(_Policy):
    """No contact on `channels` on the borrower's public holidays (rule `holiday.<channel>`)."""

    channels: list[Channel] = Field(default_factory=list)


class ContactProfile(_Policy):
    name: str
    version: int = Field(ge=1)
    description: str = ""
    jurisdictions: list[str] = Field(min_length=1)
    window: TimeWindow | None = None
    holidays: HolidayPolicy = Field(default_factory=HolidayPolicy)
    third_party: ThirdPartyPolicy | None = None
    after_conversation: AfterConversation | None = None
    caps: list[Cap] = Field(default_factory=list)
    sms_opt_out_text: str | None = None
    field_visit_agents: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _PROFILE_NAME.match(value):
            raise ValueError("a profile name uses lower-case letters, digits and hyphens")
        return value

    @field_validator("jurisdictions")
    @classmethod
    def _jurisdiction_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _JURISDICTION.match(code):
                raise ValueError(f"jurisdiction {code!r} must look like CN, US or US-MA")
        return _unique(value, "jurisdictions")

    @model_validator(mode="after")
    def _rule_names_are_unique(self) -> Self:
        names = [cap.rule for cap in self.caps]
        for part in (self.window, self.third_party, self.after_conversation):
            if part is not None:
                names.append(part.rule)
        _unique(names, "rule names")
        return self

    @property
    def lookback_days(self) -> int:
        """How many local days of contact records the rules look at (the longest window)."""
        spans = [cap.days for cap in self.caps]
        if self.after_conversation is not None:
            spans.append(self.after_conversation.days)
        return max(spans, default=1)

    @property
    def retention(self) -> timedelta:
        """How far back records must be kept: the longest window plus two days of slack for
        local days that start up to a day away from UTC's."""
        return timedelta(days=self.lookback_days + 2)

    def prune_before(self, at: datetime) -> datetime:
        """The cutoff for `ContactLedger.pruned` when nothing earlier than `at` is decided."""
        return at - self.retention

    @property
    def unreachable_after(self) -> int:
        """Failed calls in a row after which the borrower counts as unreachable."""
        if self.third_party is None:
            return 3
        return self.third_party.failed_attempts_in_a_row

    def rule_names(self) -> list[str]:
        """Every rule name this profile can answer with, for documentation and dashboards."""
        names = [f"holiday.{channel}" for channel in self.holidays.channels]
        for part in (self.third_party, self.window, self.after_conversation):
            if part is not None:
                names.append(part.rule)
        return names + [cap.rule for cap in self.caps]


def parse_profile(data: Any, source: str = "<profile>") -> ContactProfile:
    """Validate a profile mapping (already read from YAML) and explain every problem found."""
    return parse_document(ContactProfile, data, f"contact profile {source}", ProfileError)


def _read(name: str, folder: Path) -> ContactProfile:
    if not _PROFILE_NAME.match(name):
        raise ProfileError(f"{name!r} is not a valid contact profile name")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(PROFILE_NAMES)
        raise ProfileError(f"contact profile {name!r} was not found in {folder}; known: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"contact profile file {path.name} is not valid YAML: {exc}") from None
    profile = parse_profile(data, path.name)
    if profile.name != name:
        raise ProfileError(
            f"contact profile file {path.name} declares name {profile.name!r}, expected {name!r}"
        )
    return profile


@cache
def _shipped(name: str) -> ContactProfile:
    return _read(name, PROFILES_DIR)


def load_profile(name: str, directory: Path | None = None) -> ContactProfile:
    """The profile `name` (`cn`, `us-regf`, `us-ma`); shipped profiles are read once and cached."""
    if directory is None:
        return _shipped(name)
    return _read(name, directory)


@cache
def _by_jurisdiction() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in PROFILE_NAMES:
        for code in _shipped(name).jurisdictions:
            if code in table:
                raise ProfileError(
                    f"jurisdiction {code} is claimed by profiles {table[code]} and {name}"
                )
            table[code] = name
    return table


def known_jurisdictions() -> list[str]:
    return sorted(_by_jurisdiction())


def profile_for(jurisdiction: str | None, default: str) -> ContactProfile:
    """The profile for an account's jurisdiction (CONTRACT.md), or the strategy's default.

    Matching is case-insensitive. An unknown jurisdiction is an error rather than a fallback:
    guessing the rules of a place we do not know is how a lender breaks them.
    """
    code = (jurisdiction if jurisdiction is not None else default).strip().upper()
    name = _by_jurisdiction().get(code)
    if name is None:
        known = ", ".join(known_jurisdictions())
        raise ValueError(
            f"The jurisdiction {code!r} has no contact rules; known jurisdictions are {known}."
        )
    return _shipped(name)


# Read every shipped profile now, at import, outside any workflow sandbox.
_by_jurisdiction()
