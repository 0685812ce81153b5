"""How the AccountWorkflow puts its contacts through the compliance gate (domain.contact).

Pure helpers over the episode's state: which channel an action is, who it goes to, the
borrower's jurisdiction context, and what a task outcome or a delivery result adds to the contact
ledger. The deciding itself is `domain.contact.decide`; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime

from domain.account import Account
from domain.contact import BorrowerContext, ContactLedger, ContactRecord
from domain.strategy import Strategy

# Outcomes in which nobody was talked to; every other call or visit outcome reached someone.
UNANSWERED = frozenset({"no_answer", "busy"})
DEAD = frozenset({"wrong_number", "number_dead"})
NOT_REACHED = UNANSWERED | DEAD | {"visited_not_met", "address_invalid"}


def context_of(account: Account, strategy: Strategy) -> BorrowerContext:
    jurisdiction = (account.jurisdiction or strategy.jurisdiction).upper()
    country, _, subdivision = jurisdiction.partition("-")
    return BorrowerContext(
        timezone=account.borrower.timezone,
        phones=[p.number for p in account.borrower.phones],
        country=country,
        subdivision=subdivision or None,
    )


def opening_ledger(account: Account) -> ContactLedger:
    consents = account.borrower.consents
    return ContactLedger(consents={"sms": consents.sms, "voice": consents.voice})


def choose_target(account: Account, ledger: ContactLedger, channel: str) -> str | None:
    """The number a phone contact goes to: a live mobile for SMS (texts to a landline fail),
    mobile first then home and work for calls. Letters and visits go to the address."""
    if channel not in ("sms", "voice", "call"):
        return None
    dead = set(ledger.dead_numbers)
    phones = [p for p in account.borrower.phones if p.number not in dead]
    if channel == "sms":
        # A revoked number stays the target: the gate refuses it by name (consent.sms). So does
        # a mobile that takes no texts, but only when no other mobile does (number.no_sms).
        phones = [p for p in phones if p.kind == "mobile"]
        capable = [p for p in phones if ledger.sms_capable(p.number)]
        phones = capable or phones
    order = {"mobile": 0, "home": 1, "work": 2}
    phones.sort(key=lambda p: order[p.kind])
    return phones[0].number if phones else None


def sent_record(channel: str, target: str | None, at: datetime) -> ContactRecord | None:
    """What an outbound automated contact adds to the ledger when it goes out. A call task adds
    nothing until the collector reports how the call went."""
    if channel in ("sms", "letter"):
        return ContactRecord(at=at, channel=channel, target=target, result="sent")
    if channel == "voice":
        # A recorded reminder is a call attempt without a conversation (Reg F counts it).
        return ContactRecord(at=at, channel="voice", target=target, result="unanswered")
    return None


def outcome_record(
    task_kind: str, outcome: str, target: str | None, at: datetime, party: str = "borrower"
) -> ContactRecord | None:
    """A person's outcome as a contact in the ledger (caps count these). A call to the
    borrower's attorney stays the attorney's, whatever its outcome (`party`)."""
    if task_kind == "call":
        if party == "attorney":
            result = (
                "unanswered"
                if outcome in UNANSWERED
                else "failed"
                if outcome in DEAD
                else "connected"
            )
            return ContactRecord(
                at=at,
                channel="call",
                target=target,
                party="attorney",
                result=result,
                conversation=result == "connected",
            )
        if outcome in UNANSWERED:
            return ContactRecord(at=at, channel="call", target=target, result="unanswered")
        if outcome in DEAD:
            return ContactRecord(at=at, channel="call", target=target, result="failed")
        party = "third_party" if outcome == "third_party" else "borrower"
        return ContactRecord(
            at=at,
            channel="call",
            target=target,
            result="connected",
            party=party,
            conversation=True,
        )
    if task_kind == "field_visit":
        result = "visited" if outcome == "visited_met" else "not_met"
        return ContactRecord(at=at, channel="field_visit", target=None, result=result)
    return None


def agency_record(channel: str, number: str | None, result: str, at: datetime) -> ContactRecord:
    """A contact an outside agency made, as the ledger counts it (actor `agency`). A connected
    call is a telephone conversation with the borrower, as our own collectors' are."""
    return ContactRecord.model_validate(
        {
            "at": at,
            "channel": channel,
            "target": number,
            "result": result,
            "actor": "agency",
            "conversation": channel == "call" and result == "connected",
        }
    )


def conversation_record(target: str | None, at: datetime) -> ContactRecord | None:
    """A telephone conversation with the borrower that reached us outside a call task (told
    with a promise, a hardship or an answer to an offer); None when the account has no number
    at all to put it on."""
    if target is None:
        return None
    return ContactRecord(
        at=at, channel="call", target=target, result="connected", conversation=True
    )
