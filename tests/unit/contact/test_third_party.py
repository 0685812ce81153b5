"""Third parties: cn only when the borrower is unreachable, only to locate or pass a message,
never mentioning the debt; us_regf only to acquire location information."""

from __future__ import annotations

from .support import (
    CN_CONTACT,
    CN_MOBILE,
    CN_MOBILE_2,
    EMPTY,
    NY_PHONE,
    US_CONTACT,
    cn_decide,
    ledger_of,
    new_york,
    propose,
    record,
    shanghai,
    us_decide,
)

NOON = shanghai(2026, 6, 3, 12, 0)
RULE = "cn.third_party_only_when_unreachable"


def _calls(*results: str) -> list:
    return [
        record("call", shanghai(2026, 6, 2, 9 + i), result, CN_MOBILE)
        for i, result in enumerate(results)
    ]


def test_cn_third_party_refused_while_the_borrower_is_reachable() -> None:
    decision = cn_decide(propose("call", NOON, CN_CONTACT, "third_party", "locate"))
    assert decision.rule == RULE
    assert decision.earliest is None
    assert "0 of 2 borrower numbers are dead" in decision.reason


def test_cn_third_party_allowed_after_3_failed_calls_in_a_row() -> None:
    ledger = ledger_of(*_calls("connected", "unanswered", "failed", "unanswered"))
    for purpose in ("locate", "message"):
        decision = cn_decide(propose("call", NOON, CN_CONTACT, "third_party", purpose), ledger)
        assert decision.allowed, purpose
        assert decision.requirements == {"mention_debt": False}


def test_cn_third_party_refused_after_only_2_failed_calls_in_a_row() -> None:
    ledger = ledger_of(*_calls("unanswered", "unanswered", "connected", "unanswered", "failed"))
    decision = cn_decide(propose("call", NOON, CN_CONTACT, "third_party", "locate"), ledger)
    assert decision.rule == RULE


def test_cn_third_party_allowed_when_every_borrower_number_is_dead() -> None:
    one_dead = EMPTY.with_dead_number(CN_MOBILE)
    assert cn_decide(propose("sms", NOON, CN_CONTACT, "third_party", "message"), one_dead).rule == (
        RULE
    )
    all_dead = one_dead.with_dead_number(CN_MOBILE_2)
    assert cn_decide(propose("sms", NOON, CN_CONTACT, "third_party", "message"), all_dead).allowed


def test_cn_third_party_never_for_collection_even_when_unreachable() -> None:
    ledger = ledger_of(*_calls("unanswered", "unanswered", "unanswered"))
    decision = cn_decide(propose("call", NOON, CN_CONTACT, "third_party", "collect"), ledger)
    assert decision.rule == RULE
    assert "not for collect" in decision.reason


def test_cn_guarantors_are_not_third_parties() -> None:
    assert cn_decide(propose("call", NOON, CN_CONTACT, "guarantor")).allowed


def test_cn_third_party_contacts_still_keep_quiet_hours() -> None:
    ledger = ledger_of(*_calls("unanswered", "unanswered", "unanswered"))
    night = shanghai(2026, 6, 3, 22, 30)
    decision = cn_decide(propose("call", night, CN_CONTACT, "third_party", "locate"), ledger)
    assert decision.rule == "cn.quiet_hours"


def test_us_regf_third_party_only_to_acquire_location_information() -> None:
    at = new_york(2026, 6, 3, 12)
    locate = us_decide(propose("call", at, US_CONTACT, "third_party", "locate"))
    assert locate.allowed
    assert locate.requirements == {"mention_debt": False}
    message = us_decide(propose("call", at, US_CONTACT, "third_party", "message"))
    assert message.rule == "us_regf.third_party_location_only"
    assert us_decide(propose("call", at, NY_PHONE, "guarantor")).allowed
