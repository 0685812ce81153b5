"""A task is worked at any instant of its window, so the whole window must be allowed:
`allowed_until` and `window_close_after` say where an allowed period ends, and an open call
task's possible call (a pending record) counts against the caps until its outcome replaces it."""

from __future__ import annotations

from datetime import UTC, time, timedelta

from domain.contact import (
    BorrowerContext,
    ContactRecord,
    Hold,
    allowed_until,
    window_close_after,
)

from .support import (
    BOS_PHONE,
    CN,
    CN_CTX,
    CN_MOBILE,
    LA_PHONE,
    LOS_ANGELES,
    NEW_YORK,
    NY_PHONE,
    SHANGHAI,
    US,
    ledger_of,
    local,
    ma_decide,
    new_york,
    propose,
    record,
    shanghai,
)


def test_window_close_after_is_22_00_for_a_cn_call_at_21_59_59() -> None:
    at = shanghai(2026, 6, 1, 21, 59, 59)
    assert window_close_after(at, time(8), time(22), [SHANGHAI]) == shanghai(2026, 6, 1, 22)


def test_window_close_after_is_the_instant_itself_outside_the_window() -> None:
    at = shanghai(2026, 6, 1, 22)
    assert window_close_after(at, time(8), time(22), [SHANGHAI]) == at


def test_window_close_after_takes_the_zone_that_closes_first() -> None:
    """Los Angeles address, New York phone: 21:00 New York is 18:00 Los Angeles."""
    at = local(LOS_ANGELES, 2026, 6, 1, 12)
    closes = window_close_after(at, time(8), time(21), [LOS_ANGELES, NEW_YORK])
    assert closes == new_york(2026, 6, 1, 21)


def test_window_close_after_on_the_spring_forward_day_in_new_york() -> None:
    at = new_york(2026, 3, 8, 12)
    closes = window_close_after(at, time(8), time(21), [NEW_YORK])
    assert closes == new_york(2026, 3, 8, 21)
    assert closes - at == timedelta(hours=9)


def test_allowed_until_cuts_a_cn_callback_at_21_50_at_22_00() -> None:
    at = shanghai(2026, 6, 1, 21, 50)
    until = allowed_until(propose("call", at, CN_MOBILE), [], CN, CN_CTX)
    assert until == shanghai(2026, 6, 1, 22).astimezone(UTC)


def test_allowed_until_us_call_ends_at_21_00_in_the_phones_zone_when_it_is_east() -> None:
    ctx = BorrowerContext(timezone=LOS_ANGELES, phones=[NY_PHONE], country="US")
    at = local(LOS_ANGELES, 2026, 6, 1, 9)
    until = allowed_until(propose("call", at, NY_PHONE), [], US, ctx)
    assert until == new_york(2026, 6, 1, 21).astimezone(UTC)
    same_zone = BorrowerContext(timezone=LOS_ANGELES, phones=[LA_PHONE], country="US")
    until = allowed_until(propose("call", at, LA_PHONE), [], US, same_zone)
    assert until == local(LOS_ANGELES, 2026, 6, 1, 21).astimezone(UTC)


def test_allowed_until_a_hold_that_begins_later_ends_the_period() -> None:
    at = shanghai(2026, 6, 1, 9)
    hold = Hold(kind="dispute", since=shanghai(2026, 6, 1, 10))
    until = allowed_until(propose("call", at, CN_MOBILE), [hold], CN, CN_CTX)
    assert until == shanghai(2026, 6, 1, 10).astimezone(UTC)


def test_allowed_until_a_letter_ends_where_the_next_public_holiday_begins() -> None:
    """No letters on CN National Day (1 October): a letter allowed on 30 September is allowed
    only until midnight."""
    at = shanghai(2026, 9, 30, 9)
    until = allowed_until(propose("letter", at), [], CN, CN_CTX)
    assert until == shanghai(2026, 10, 1).astimezone(UTC)


def _pending_call(at_day: int, task_id: str = "T-1") -> ContactRecord:
    return ContactRecord.model_validate(
        {
            "at": new_york(2026, 6, at_day, 10),
            "channel": "call",
            "target": BOS_PHONE,
            "result": "unanswered",
            "pending_task": task_id,
        }
    )


def test_us_ma_sms_then_an_open_call_task_then_the_next_sms_is_refused() -> None:
    ledger = ledger_of(record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE), _pending_call(2))
    decision = ma_decide(propose("sms", new_york(2026, 6, 3, 10), BOS_PHONE), ledger)
    assert not decision.allowed and decision.rule == "us_ma.two_in_seven"
    # Allowed again once neither the text nor the task's call is within 7 days.
    assert decision.earliest == new_york(2026, 6, 8, 8).astimezone(UTC)


def test_us_ma_an_open_call_task_ahead_counts_against_a_text_before_it() -> None:
    ledger = ledger_of(record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE), _pending_call(5))
    decision = ma_decide(propose("sms", new_york(2026, 6, 3, 10), BOS_PHONE), ledger)
    assert not decision.allowed and decision.rule == "us_ma.two_in_seven"
    assert decision.earliest == new_york(2026, 6, 8, 8).astimezone(UTC)


def test_us_ma_a_task_whose_outcome_arrived_or_that_expired_counts_no_more() -> None:
    ledger = ledger_of(record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE), _pending_call(2))
    assert ma_decide(
        propose("sms", new_york(2026, 6, 3, 10), BOS_PHONE), ledger.without_pending("T-1")
    ).allowed


def test_a_pending_call_is_not_a_failed_attempt_for_the_third_party_rule() -> None:
    ledger = ledger_of(
        record("call", shanghai(2026, 6, 1, 10), "unanswered", CN_MOBILE),
        record("call", shanghai(2026, 6, 1, 11), "unanswered", CN_MOBILE),
        ContactRecord.model_validate(
            {
                "at": shanghai(2026, 6, 1, 14),
                "channel": "call",
                "target": CN_MOBILE,
                "result": "unanswered",
                "pending_task": "T-9",
            }
        ),
    )
    assert ledger.consecutive_failed_attempts() == 2
