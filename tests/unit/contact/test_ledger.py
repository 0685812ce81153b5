"""The contact ledger: immutable changes, pruning, unreachability, JSON round trips."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from domain.contact import (
    BorrowerContext,
    ContactLedger,
    ContactRecord,
    Hold,
    ProposedContact,
    earliest_allowed,
)

from .support import (
    CN,
    CN_CTX,
    CN_MOBILE,
    CN_MOBILE_2,
    EMPTY,
    NY_CTX,
    NY_PHONE,
    US,
    cn_decide,
    ledger_of,
    new_york,
    propose,
    record,
    shanghai,
    us_decide,
)


def test_with_record_returns_a_new_ledger_in_time_order() -> None:
    late = record("call", shanghai(2026, 6, 2, 15), "connected", CN_MOBILE)
    early = record("sms", shanghai(2026, 6, 2, 9), "sent", CN_MOBILE)
    one = EMPTY.with_record(late)
    two = one.with_record(early)
    assert EMPTY.records == [] and one.records == [late]
    assert two.records == [early, late]


def test_records_at_the_same_instant_keep_the_order_they_were_added() -> None:
    at = shanghai(2026, 6, 2, 9)
    first = record("call", at, "unanswered", CN_MOBILE)
    second = record("call", at, "connected", CN_MOBILE)
    assert ledger_of(first, second).records == [first, second]


def test_a_record_names_a_number_for_phone_channels_and_none_for_letters() -> None:
    with pytest.raises(ValidationError, match="needs the target phone number"):
        record("call", shanghai(2026, 6, 2, 9), "connected")
    with pytest.raises(ValidationError, match="has no target phone number"):
        record("letter", shanghai(2026, 6, 2, 9), "sent", CN_MOBILE)
    with pytest.raises(ValidationError, match="needs the target phone number"):
        ProposedContact(channel="sms", at=shanghai(2026, 6, 2, 9))


def test_records_and_proposals_need_aware_instants() -> None:
    from datetime import datetime

    with pytest.raises(ValidationError):
        ProposedContact(channel="letter", at=datetime(2026, 6, 2, 9))  # noqa: DTZ001


def test_consecutive_failed_attempts_count_borrower_calls_since_the_last_connection() -> None:
    ledger = ledger_of(
        record("call", shanghai(2026, 6, 1, 9), "unanswered", CN_MOBILE),
        record("call", shanghai(2026, 6, 1, 10), "connected", CN_MOBILE),
        record("call", shanghai(2026, 6, 1, 11), "unanswered", CN_MOBILE),
        record("sms", shanghai(2026, 6, 1, 12), "failed", CN_MOBILE),  # not a call
        record("call", shanghai(2026, 6, 1, 13), "failed", CN_MOBILE_2),
        record("call", shanghai(2026, 6, 1, 14), "connected", CN_MOBILE_2, party="guarantor"),
    )
    assert ledger.consecutive_failed_attempts() == 2
    assert not ledger.borrower_unreachable([CN_MOBILE, CN_MOBILE_2])
    third = ledger.with_record(record("call", shanghai(2026, 6, 1, 15), "unanswered", CN_MOBILE))
    assert third.consecutive_failed_attempts() == 3
    assert third.borrower_unreachable([CN_MOBILE, CN_MOBILE_2])


def test_borrower_unreachable_when_every_number_is_dead() -> None:
    ledger = EMPTY.with_dead_number(CN_MOBILE)
    assert not ledger.borrower_unreachable([CN_MOBILE, CN_MOBILE_2])
    assert ledger.with_dead_number(CN_MOBILE_2).borrower_unreachable([CN_MOBILE, CN_MOBILE_2])


def test_pruned_drops_old_records_but_keeps_the_last_three_calls() -> None:
    old_calls = [
        record("call", shanghai(2026, 5, 1, 9 + i), "unanswered", CN_MOBILE) for i in range(5)
    ]
    old_sms = record("sms", shanghai(2026, 5, 2, 9), "sent", CN_MOBILE)
    recent = record("sms", shanghai(2026, 6, 1, 9), "sent", CN_MOBILE)
    ledger = ledger_of(*old_calls, old_sms, recent)
    now = shanghai(2026, 6, 2, 9)
    pruned = ledger.pruned(CN.prune_before(now))
    assert pruned.records == [*old_calls[-3:], recent]
    assert pruned.consecutive_failed_attempts() == 3
    assert pruned.borrower_unreachable([CN_MOBILE, CN_MOBILE_2])
    assert ledger.records[0] == old_calls[0]  # the original is untouched


def test_pruning_at_the_profile_horizon_changes_no_decision() -> None:
    calls = [record("call", new_york(2026, 6, d, 10), "unanswered", NY_PHONE) for d in range(1, 8)]
    ledger = ledger_of(*calls)
    for day in range(7, 10):
        proposed = propose("call", new_york(2026, 6, day, 12), NY_PHONE)
        full = us_decide(proposed, ledger)
        small = us_decide(proposed, ledger.pruned(US.prune_before(proposed.at)))
        assert (full.allowed, full.rule, full.earliest) == (
            small.allowed,
            small.rule,
            small.earliest,
        )


def test_profiles_know_how_far_back_their_rules_look() -> None:
    assert CN.lookback_days == 1
    assert US.lookback_days == 7
    assert US.retention == timedelta(days=9)


def test_ledger_and_friends_round_trip_through_json() -> None:
    ledger = (
        ledger_of(
            record("call", shanghai(2026, 6, 1, 9), "connected", CN_MOBILE, conversation=True),
            record("letter", shanghai(2026, 6, 1, 10), "sent", purpose="notice"),
            record("field_visit", shanghai(2026, 6, 1, 11), "not_met", actor="agency"),
        )
        .with_dead_number(CN_MOBILE_2)
        .with_consent("voice", False)
        .with_consent("sms", False, number=CN_MOBILE)
    )
    assert ContactLedger.model_validate_json(ledger.model_dump_json()) == ledger
    assert ContactLedger.model_validate(ledger.model_dump(mode="json")) == ledger
    hold = Hold(kind="complaint", since=shanghai(2026, 6, 1), detail={"reason": "rude agent"})
    assert Hold.model_validate_json(hold.model_dump_json()) == hold
    for ctx in (CN_CTX, NY_CTX):
        assert BorrowerContext.model_validate_json(ctx.model_dump_json()) == ctx
    proposed = propose("sms", shanghai(2026, 6, 2, 9), CN_MOBILE)
    assert ProposedContact.model_validate_json(proposed.model_dump_json()) == proposed
    rec = ledger.records[0]
    assert ContactRecord.model_validate_json(rec.model_dump_json()) == rec
    decision = earliest_allowed(proposed, ledger, [hold], CN, CN_CTX)
    assert type(decision).model_validate_json(decision.model_dump_json()) == decision


def test_ledger_lists_are_sorted_and_unique() -> None:
    ledger = ContactLedger(dead_numbers=[CN_MOBILE_2, CN_MOBILE, CN_MOBILE_2])
    assert ledger.dead_numbers == sorted([CN_MOBILE, CN_MOBILE_2])
    again = ledger.with_dead_number(CN_MOBILE)
    assert again.dead_numbers == ledger.dead_numbers


def test_decide_uses_what_the_ledger_says_right_now() -> None:
    ledger = EMPTY.with_dead_number(CN_MOBILE)
    assert cn_decide(propose("call", shanghai(2026, 6, 2, 9), CN_MOBILE), ledger).rule == (
        "number.dead"
    )
