"""Holds: each kind, stacking, ending; bankruptcy beats everything."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from domain.contact import Channel, Hold, HoldKind, Party, Purpose, active_holds

from .support import (
    CN_CONTACT,
    CN_MOBILE,
    EMPTY,
    cn_decide,
    ledger_of,
    propose,
    record,
    shanghai,
)

NOON = shanghai(2026, 6, 2, 12, 0)
SINCE = shanghai(2026, 6, 1, 9, 0)


def hold(kind: HoldKind, until: datetime | None = None, since: datetime = SINCE) -> Hold:
    return Hold(kind=kind, since=since, until=until)


def test_active_holds_start_inclusive_and_end_exclusive() -> None:
    h = hold("dispute", until=shanghai(2026, 6, 3, 9, 0))
    assert active_holds([h], SINCE) == [h]
    assert active_holds([h], shanghai(2026, 6, 3, 8, 59, 59)) == [h]
    assert active_holds([h], shanghai(2026, 6, 3, 9, 0)) == []
    assert active_holds([h], shanghai(2026, 6, 1, 8, 59, 59)) == []


def test_a_hold_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        hold("grace", until=shanghai(2026, 5, 1))


# ---------------------------------------------------------------------------- bankruptcy


@pytest.mark.parametrize(
    ("channel", "party", "purpose", "target"),
    [
        ("call", "borrower", "collect", CN_MOBILE),
        ("sms", "borrower", "message", CN_MOBILE),
        ("letter", "borrower", "notice", None),
        ("letter", "guarantor", "notice", None),
        ("call", "attorney", "notice", CN_CONTACT),
        ("field_visit", "borrower", "locate", None),
    ],
)
def test_hold_bankruptcy_refuses_every_contact_of_every_kind(
    channel: Channel, party: Party, purpose: Purpose, target: str | None
) -> None:
    decision = cn_decide(
        propose(channel, NOON, target, party, purpose),
        holds=[hold("bankruptcy")],
    )
    assert decision.rule == "hold.bankruptcy"
    assert decision.earliest is None
    assert "automatic stay" in decision.reason


def test_hold_bankruptcy_beats_every_other_rule() -> None:
    ledger = EMPTY.with_consent("sms", False).with_dead_number(CN_MOBILE)
    holds = [hold("grace"), hold("dispute"), hold("bankruptcy"), hold("attorney")]
    night = shanghai(2026, 10, 1, 23, 0)  # quiet hours on National Day
    decision = cn_decide(propose("sms", night, CN_MOBILE), ledger, holds)
    assert decision.rule == "hold.bankruptcy"
    assert decision.earliest is None


# ------------------------------------------------------------------------------ deceased


def test_hold_deceased_refuses_contact_with_the_borrower() -> None:
    decision = cn_decide(propose("letter", NOON, purpose="notice"), holds=[hold("deceased")])
    assert decision.rule == "hold.deceased"
    assert decision.earliest is None


def test_hold_deceased_allows_notice_letters_to_the_estate_or_guarantor() -> None:
    holds = [hold("deceased")]
    assert cn_decide(propose("letter", NOON, None, "guarantor", "notice"), holds=holds).allowed
    # A related party who is not liable is a third party: reachable only to pass a message,
    # which a deceased borrower (who cannot be reached) makes possible, without the debt.
    related = cn_decide(propose("letter", NOON, None, "third_party", "message"), holds=holds)
    assert related.allowed
    assert related.requirements == {"mention_debt": False}


# ---------------------------------------------------------------- dispute, complaint, grace


@pytest.mark.parametrize("kind", ["dispute", "complaint", "grace"])
def test_holds_that_pause_collection_refuse_collect_contacts(kind: HoldKind) -> None:
    decision = cn_decide(propose("call", NOON, CN_MOBILE), holds=[hold(kind)])
    assert decision.rule == f"hold.{kind}"
    assert decision.earliest is None


@pytest.mark.parametrize("kind", ["dispute", "complaint", "grace"])
def test_holds_that_pause_collection_allow_notices(kind: HoldKind) -> None:
    decision = cn_decide(propose("letter", NOON, purpose="notice"), holds=[hold(kind)])
    assert decision.allowed


@pytest.mark.parametrize("kind", ["dispute", "complaint", "grace"])
def test_a_hold_with_an_end_gives_earliest_at_its_end(kind: HoldKind) -> None:
    ends = shanghai(2026, 6, 4, 10, 30)
    decision = cn_decide(propose("call", NOON, CN_MOBILE), holds=[hold(kind, until=ends)])
    assert decision.rule == f"hold.{kind}"
    assert decision.earliest == ends
    assert cn_decide(propose("call", ends, CN_MOBILE), holds=[hold(kind, until=ends)]).allowed


# ------------------------------------------------------------------- cease_communication


def test_hold_cease_communication_allows_only_notice_letters() -> None:
    holds = [hold("cease_communication")]
    assert cn_decide(propose("letter", NOON, purpose="notice"), holds=holds).allowed
    assert cn_decide(propose("letter", NOON), holds=holds).rule == "hold.cease_communication"
    assert cn_decide(propose("sms", NOON, CN_MOBILE, purpose="notice"), holds=holds).rule == (
        "hold.cease_communication"
    )
    visit = cn_decide(propose("field_visit", NOON, purpose="notice"), holds=holds)
    assert visit.rule == "hold.cease_communication"


# ------------------------------------------------------------------------------ attorney


def test_hold_attorney_allows_contact_with_the_attorney_only() -> None:
    holds = [hold("attorney")]
    assert cn_decide(propose("call", NOON, CN_MOBILE), holds=holds).rule == "hold.attorney"
    assert cn_decide(propose("call", NOON, CN_CONTACT, party="attorney"), holds=holds).allowed
    guarantor = cn_decide(propose("letter", NOON, None, "guarantor"), holds=holds)
    assert guarantor.rule == "hold.attorney"


# ------------------------------------------------------------------------ stacking, ending


def test_stacked_holds_refuse_until_the_last_one_ends() -> None:
    first_end = shanghai(2026, 6, 3, 10, 0)
    last_end = shanghai(2026, 6, 5, 10, 0)
    holds = [hold("grace", until=last_end), hold("dispute", until=first_end)]
    decision = cn_decide(propose("call", NOON, CN_MOBILE), holds=holds)
    assert decision.rule == "hold.dispute"  # named by priority
    assert decision.earliest == last_end  # but allowed only when both ended
    assert "grace" in decision.reason
    between = cn_decide(propose("call", shanghai(2026, 6, 4, 10), CN_MOBILE), holds=holds)
    assert between.rule == "hold.grace"
    assert cn_decide(propose("call", last_end, CN_MOBILE), holds=holds).allowed


def test_stacked_holds_with_one_open_ended_give_no_earliest() -> None:
    holds = [hold("grace", until=shanghai(2026, 6, 3)), hold("complaint")]
    assert cn_decide(propose("call", NOON, CN_MOBILE), holds=holds).earliest is None


def test_ending_a_hold_lets_contact_resume_from_its_end() -> None:
    dispute = hold("dispute")
    resolved = dispute.ended(shanghai(2026, 6, 2, 11, 0))
    assert resolved.until == shanghai(2026, 6, 2, 11, 0)
    assert dispute.until is None  # holds are values: ending one makes a new one
    assert cn_decide(propose("call", NOON, CN_MOBILE), holds=[resolved]).allowed
    before = cn_decide(propose("call", shanghai(2026, 6, 2, 10), CN_MOBILE), holds=[resolved])
    assert before.rule == "hold.dispute"


def test_a_hold_that_starts_later_does_not_refuse_now() -> None:
    later = hold("bankruptcy", since=shanghai(2026, 6, 3))
    assert cn_decide(propose("call", NOON, CN_MOBILE), holds=[later]).allowed


def test_hold_grace_does_not_lift_other_rules_when_it_ends() -> None:
    ends = shanghai(2026, 6, 2, 23, 0)  # ends in quiet hours
    ledger = ledger_of(record("call", shanghai(2026, 6, 1, 9), "connected", CN_MOBILE))
    decision = cn_decide(propose("call", ends, CN_MOBILE), ledger, [hold("grace", until=ends)])
    assert decision.rule == "cn.quiet_hours"
