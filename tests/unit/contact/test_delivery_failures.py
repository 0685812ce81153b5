"""What a failed delivery teaches about a number (domain.contact.delivery) and how the gate then
treats it: dead numbers take nothing, numbers that take no texts still take calls, and three
undelivered texts in a row mean no more texts until the number shows it works."""

from __future__ import annotations

import pytest

from domain.contact import TEMPORARY_FAILURES_BEFORE_NO_SMS, delivery_verdict, verdict_reason

from .support import CN_MOBILE, CN_MOBILE_2, EMPTY, cn_decide, propose, shanghai

NOON = shanghai(2026, 6, 2, 12, 0)


@pytest.mark.parametrize("code", [21211, 30005])
def test_an_invalid_number_or_unknown_destination_makes_the_number_dead(code: int) -> None:
    assert delivery_verdict("sms", code) == "dead"
    assert delivery_verdict("voice", code) == "dead"


@pytest.mark.parametrize("code", [21614, 30006])
def test_a_landline_or_unreachable_carrier_takes_no_texts_but_calls_are_unaffected(
    code: int,
) -> None:
    assert delivery_verdict("sms", code) == "no_sms"
    assert delivery_verdict("voice", code) == "ignored"


def test_a_carrier_unsubscribe_withdraws_sms_consent_for_the_number() -> None:
    assert delivery_verdict("sms", 21610) == "unsubscribed"


@pytest.mark.parametrize("code", [30003, 30008, None])
def test_an_unreachable_handset_or_unknown_error_is_temporary(code: int | None) -> None:
    assert delivery_verdict("sms", code) == "temporary"
    assert delivery_verdict("voice", code) == "ignored"


def test_a_number_reported_dead_without_a_code_is_dead_but_a_code_wins_over_the_claim() -> None:
    assert delivery_verdict("sms", None, said_dead=True) == "dead"
    assert delivery_verdict("sms", 30006, said_dead=True) == "no_sms"
    assert delivery_verdict("sms", 30003, said_dead=True) == "temporary"


def test_the_gate_refuses_texts_to_a_number_that_takes_none_and_still_allows_calls() -> None:
    ledger = EMPTY.with_no_sms_number(CN_MOBILE)
    refused = cn_decide(propose("sms", NOON, CN_MOBILE), ledger)
    assert refused.rule == "number.no_sms"
    assert refused.earliest is None
    assert cn_decide(propose("call", NOON, CN_MOBILE), ledger).allowed
    assert cn_decide(propose("voice", NOON, CN_MOBILE), ledger).allowed
    assert cn_decide(propose("sms", NOON, CN_MOBILE_2), ledger).allowed


def test_three_undelivered_texts_in_a_row_are_counted_per_number() -> None:
    ledger = EMPTY
    for n in range(1, TEMPORARY_FAILURES_BEFORE_NO_SMS + 1):
        ledger = ledger.with_undelivered_sms(CN_MOBILE)
        assert ledger.undelivered_sms_to(CN_MOBILE) == n
    assert TEMPORARY_FAILURES_BEFORE_NO_SMS == 3
    assert ledger.undelivered_sms_to(CN_MOBILE_2) == 0
    assert "3 texts in a row" in verdict_reason("no_sms", 30003, 3)


def test_a_number_that_shows_it_works_takes_texts_again_and_its_count_restarts() -> None:
    ledger = EMPTY.with_undelivered_sms(CN_MOBILE).with_undelivered_sms(CN_MOBILE_2)
    ledger = ledger.with_no_sms_number(CN_MOBILE_2)
    assert ledger.undelivered_sms_to(CN_MOBILE_2) == 0  # its count is done
    working = ledger.with_sms_working(CN_MOBILE).with_sms_working(CN_MOBILE_2)
    assert working.undelivered_sms_to(CN_MOBILE) == 0
    assert working.no_sms_numbers == []
    assert cn_decide(propose("sms", NOON, CN_MOBILE_2), working).allowed
    assert EMPTY.with_sms_working(CN_MOBILE) is EMPTY


def test_what_was_learned_survives_a_round_trip_through_workflow_state() -> None:
    ledger = EMPTY.with_no_sms_number(CN_MOBILE).with_undelivered_sms(CN_MOBILE_2)
    again = type(ledger).model_validate_json(ledger.model_dump_json())
    assert again == ledger
    assert again.pruned(NOON) == again.model_copy(update={"records": []})
