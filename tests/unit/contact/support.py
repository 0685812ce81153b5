"""Builders shared by the contact-rule tests: profiles, borrowers, records and proposals."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from domain.contact import (
    BorrowerContext,
    Channel,
    ContactLedger,
    ContactRecord,
    Decision,
    Hold,
    Party,
    ProposedContact,
    Purpose,
    decide,
    load_profile,
)

CN = load_profile("cn")
US = load_profile("us-regf")
MA = load_profile("us-ma")

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"

CN_MOBILE = "+8613800000000"
CN_MOBILE_2 = "+8613912345678"
CN_CONTACT = "+8613700000001"  # a contact person who is not a guarantor
NY_PHONE = "+12125550123"
LA_PHONE = "+14155550123"
BOS_PHONE = "+16175550123"
US_CONTACT = "+12025550123"

CN_CTX = BorrowerContext(timezone=SHANGHAI, phones=[CN_MOBILE, CN_MOBILE_2], country="CN")
NY_CTX = BorrowerContext(timezone=NEW_YORK, phones=[NY_PHONE], country="US")
MA_CTX = BorrowerContext(timezone=NEW_YORK, phones=[BOS_PHONE], country="US", subdivision="MA")

EMPTY = ContactLedger()


def local(tz: str, y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """An aware instant from a local wall-clock time (first occurrence in a DST fold)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=ZoneInfo(tz))


def shanghai(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return local(SHANGHAI, y, m, d, hh, mm, ss)


def new_york(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return local(NEW_YORK, y, m, d, hh, mm, ss)


def propose(
    channel: Channel,
    at: datetime,
    target: str | None = None,
    party: Party = "borrower",
    purpose: Purpose = "collect",
) -> ProposedContact:
    return ProposedContact(channel=channel, at=at, target=target, party=party, purpose=purpose)


def record(
    channel: Channel,
    at: datetime,
    result: str,
    target: str | None = None,
    party: Party = "borrower",
    actor: str = "us",
    conversation: bool = False,
    purpose: Purpose = "collect",
) -> ContactRecord:
    return ContactRecord.model_validate(
        {
            "at": at,
            "channel": channel,
            "party": party,
            "target": target,
            "result": result,
            "actor": actor,
            "conversation": conversation,
            "purpose": purpose,
        }
    )


def ledger_of(*records: ContactRecord) -> ContactLedger:
    ledger = ContactLedger()
    for item in records:
        ledger = ledger.with_record(item)
    return ledger


def cn_decide(
    proposed: ProposedContact, ledger: ContactLedger = EMPTY, holds: list[Hold] | None = None
) -> Decision:
    return decide(proposed, ledger, holds or [], CN, CN_CTX)


def us_decide(
    proposed: ProposedContact,
    ledger: ContactLedger = EMPTY,
    holds: list[Hold] | None = None,
    ctx: BorrowerContext = NY_CTX,
) -> Decision:
    return decide(proposed, ledger, holds or [], US, ctx)


def ma_decide(
    proposed: ProposedContact, ledger: ContactLedger = EMPTY, holds: list[Hold] | None = None
) -> Decision:
    return decide(proposed, ledger, holds or [], MA, MA_CTX)
