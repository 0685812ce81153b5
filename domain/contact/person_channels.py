"""The person's channel facts across a borrower's loans (docs/borrowers.md, "Numbers and
consent are the person's").

A dead number, a number that replied STOP, a number that takes no texts and a withdrawn SMS or
voice consent are facts about the person and their phones, not about one loan. Each loan keeps
them in its own `ContactLedger` (the gate reads them there); the borrower's authority keeps the
person's set (`PersonChannels`) and every loan follows it.

Changes travel as differences, so a restoration (skip tracing confirms a number, a reply shows it
takes texts, consent is given again) travels as well as a loss: a loan reports what it holds and
the person facts it last took from the borrower (`base`); what it changed since then is applied
to the person (`learn`). A loan takes the person's facts into its ledger with a three-way merge
(`adopt`) that keeps the changes it made meanwhile. `version` grows with every change, so a loan
ignores an older copy that reaches it after a newer one. Pure: no clock, no Temporal.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from domain.account import PhoneNumber
from domain.contact.ledger import ContactLedger

__all__ = [
    "NUMBER_FACTS",
    "PersonChannels",
    "adopt",
    "channels_of",
    "first_base",
    "learn",
    "with_person",
]

NUMBER_FACTS = ("dead_numbers", "revoked_numbers_sms", "no_sms_numbers")
"""The ledger's per-number lists that are the person's (kept sorted and unique by the ledger)."""


class PersonChannels(BaseModel):
    """Dead numbers, STOP'd numbers, numbers that take no texts, and the consents given or
    withdrawn (`sms`, `voice`; a missing key: no restriction)."""

    version: int = 0
    dead_numbers: list[PhoneNumber] = Field(default_factory=list)
    revoked_numbers_sms: list[PhoneNumber] = Field(default_factory=list)
    no_sms_numbers: list[PhoneNumber] = Field(default_factory=list)
    consents: dict[str, bool] = Field(default_factory=dict)

    @field_validator("dead_numbers", "revoked_numbers_sms", "no_sms_numbers")
    @classmethod
    def _sorted_unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    def same_facts(self, other: PersonChannels) -> bool:
        """The same restrictions (a consent key left out means given)."""
        return all(getattr(self, f) == getattr(other, f) for f in NUMBER_FACTS) and all(
            self.consents.get(c, True) == other.consents.get(c, True) for c in ("sms", "voice")
        )


def channels_of(ledger: ContactLedger) -> PersonChannels:
    """The person's facts as one loan's ledger holds them (version 0: not the borrower's)."""
    return PersonChannels(
        dead_numbers=ledger.dead_numbers,
        revoked_numbers_sms=ledger.revoked_numbers_sms,
        no_sms_numbers=ledger.no_sms_numbers,
        consents=ledger.consents,
    )


def first_base(channels: PersonChannels) -> PersonChannels:
    """The base of a loan that has never exchanged facts with its borrower: nothing restricted,
    so all of its restrictions count as news and none of the other side's are lifted."""
    return PersonChannels(consents={c: True for c, given in channels.consents.items() if given})


def _merge(ours: PersonChannels, base: PersonChannels, theirs: PersonChannels) -> dict[str, object]:
    """`ours` with what `theirs` changed since `base` (sets: added and removed; consents: each
    channel whose value moved)."""
    merged: dict[str, object] = {}
    for field in NUMBER_FACTS:
        had, now, mine = (set(getattr(x, field)) for x in (base, theirs, ours))
        merged[field] = sorted((mine | (now - had)) - (had - now))
    consents = dict(ours.consents)
    for channel in sorted(set(base.consents) | set(theirs.consents)):
        if base.consents.get(channel) != theirs.consents.get(channel):
            if channel in theirs.consents:
                consents[channel] = theirs.consents[channel]
            else:
                consents.pop(channel, None)
    merged["consents"] = dict(sorted(consents.items()))
    return merged


def learn(
    person: PersonChannels, base: PersonChannels | None, reported: PersonChannels
) -> PersonChannels:
    """The person's facts after one loan's report: what the loan changed since `base` (the
    person facts it last took) applies to the person. A loan reporting for the first time
    (`base` None: new, or continued as new) only adds restrictions: its dead, STOP'd and no-SMS
    numbers and its withdrawn consents; it cannot lift what another loan learnt."""
    if base is None:
        base = first_base(reported)
    merged = PersonChannels.model_validate(_merge(person, base, reported))
    if merged.same_facts(person):
        return person
    return merged.model_copy(update={"version": person.version + 1})


def adopt(ledger: ContactLedger, base: PersonChannels, person: PersonChannels) -> ContactLedger:
    """The loan's ledger with the person's facts: what the person's set changed since `base`
    (the facts the loan last reported or took) applied to the ledger, so a change the loan made
    meanwhile is kept (and reported next time)."""
    merged = _merge(channels_of(ledger), base, person)
    return ledger.model_copy(update=merged)


def with_person(ledger: ContactLedger, person: PersonChannels) -> ContactLedger:
    """The ledger a grant is decided on: every restriction of the loan or the person (the union
    of the numbers, a consent withdrawn by either)."""
    consents = dict(ledger.consents)
    for channel, given in person.consents.items():
        if not given:
            consents[channel] = False
    update = {
        field: sorted({*getattr(ledger, field), *getattr(person, field)}) for field in NUMBER_FACTS
    }
    return ledger.model_copy(update={**update, "consents": dict(sorted(consents.items()))})
