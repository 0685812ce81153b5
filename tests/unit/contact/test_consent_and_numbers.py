"""Consent (SMS, voice), STOP per number, dead numbers, and what an allowed contact requires."""

from __future__ import annotations

import pytest

from domain.contact import Channel, ContactLedger

from .support import (
    BOS_PHONE,
    CN_MOBILE,
    CN_MOBILE_2,
    EMPTY,
    NY_PHONE,
    cn_decide,
    ma_decide,
    new_york,
    propose,
    shanghai,
    us_decide,
)

NOON = shanghai(2026, 6, 2, 12, 0)


def test_consent_sms_withdrawn_refuses_texts_without_earliest() -> None:
    ledger = EMPTY.with_consent("sms", False)
    decision = cn_decide(propose("sms", NOON, CN_MOBILE), ledger)
    assert decision.rule == "consent.sms"
    assert decision.earliest is None


def test_consent_sms_restored_allows_texts_again() -> None:
    ledger = EMPTY.with_consent("sms", False).with_consent("sms", True)
    assert cn_decide(propose("sms", NOON, CN_MOBILE), ledger).allowed


def test_consent_sms_stop_from_one_number_leaves_the_others() -> None:
    ledger = EMPTY.with_consent("sms", False, number=CN_MOBILE)
    assert ledger.revoked_numbers_sms == [CN_MOBILE]
    assert cn_decide(propose("sms", NOON, CN_MOBILE), ledger).rule == "consent.sms"
    assert cn_decide(propose("sms", NOON, CN_MOBILE_2), ledger).allowed
    # Granting the channel again does not undo the number's STOP; its own opt-in does.
    assert cn_decide(propose("sms", NOON, CN_MOBILE), ledger.with_consent("sms", True)).rule == (
        "consent.sms"
    )
    back = ledger.with_consent("sms", True, number=CN_MOBILE)
    assert cn_decide(propose("sms", NOON, CN_MOBILE), back).allowed


def test_consent_sms_stop_leaves_calls_alone() -> None:
    ledger = EMPTY.with_consent("sms", False).with_consent("sms", False, number=CN_MOBILE)
    assert cn_decide(propose("call", NOON, CN_MOBILE), ledger).allowed


def test_consent_voice_withdrawn_refuses_automated_voice_not_collector_calls() -> None:
    ledger = EMPTY.with_consent("voice", False)
    decision = cn_decide(propose("voice", NOON, CN_MOBILE), ledger)
    assert decision.rule == "consent.voice"
    assert decision.earliest is None
    assert cn_decide(propose("call", NOON, CN_MOBILE), ledger).allowed
    assert cn_decide(propose("voice", NOON, CN_MOBILE), ledger.with_consent("voice", True)).allowed


def test_consent_is_assumed_when_the_account_did_not_restrict_a_channel() -> None:
    assert EMPTY.consents == {}
    assert cn_decide(propose("voice", NOON, CN_MOBILE), EMPTY).allowed


def test_consent_is_kept_for_sms_and_voice_only() -> None:
    with pytest.raises(ValueError, match="sms and voice only"):
        ContactLedger(consents={"letter": False})
    with pytest.raises(ValueError, match="SMS only"):
        EMPTY.with_consent("voice", False, number=CN_MOBILE)


@pytest.mark.parametrize("channel", ["sms", "voice", "call"])
def test_number_dead_refuses_every_phone_channel_to_it(channel: Channel) -> None:
    ledger = EMPTY.with_dead_number(CN_MOBILE)
    decision = cn_decide(propose(channel, NOON, CN_MOBILE), ledger)
    assert decision.rule == "number.dead"
    assert decision.earliest is None
    assert cn_decide(propose(channel, NOON, CN_MOBILE_2), ledger).allowed


def test_number_dead_is_lifted_when_the_number_works_again() -> None:
    ledger = EMPTY.with_dead_number(CN_MOBILE).without_dead_number(CN_MOBILE)
    assert cn_decide(propose("call", NOON, CN_MOBILE), ledger).allowed


def test_numbers_are_compared_in_e164_whatever_their_spelling() -> None:
    ledger = EMPTY.with_dead_number("+86 138 0000 0000")
    assert ledger.dead_numbers == [CN_MOBILE]
    assert cn_decide(propose("call", NOON, "+86-138-0000-0000"), ledger).rule == "number.dead"


def test_us_sms_requires_the_opt_out_text() -> None:
    at = new_york(2026, 6, 2, 12)
    assert us_decide(propose("sms", at, NY_PHONE)).requirements == {
        "opt_out_text": "Reply STOP to opt out."
    }
    assert ma_decide(propose("sms", at, BOS_PHONE)).requirements == {
        "opt_out_text": "Reply STOP to opt out."
    }
    assert us_decide(propose("call", at, NY_PHONE)).requirements == {}


def test_cn_sms_has_no_opt_out_requirement_and_visits_need_two_agents() -> None:
    assert cn_decide(propose("sms", NOON, CN_MOBILE)).requirements == {}
    assert cn_decide(propose("field_visit", NOON)).requirements == {"agents": 2}
