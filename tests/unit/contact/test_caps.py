"""Frequency caps and the pause after a conversation, at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.contact import Channel, ContactRecord

from .support import (
    BOS_PHONE,
    CN_MOBILE,
    CN_MOBILE_2,
    NY_PHONE,
    US_CONTACT,
    cn_decide,
    ledger_of,
    ma_decide,
    new_york,
    propose,
    record,
    shanghai,
    us_decide,
)


def _ny_calls(days: list[int], hour: int = 10, channel: Channel = "call") -> list[ContactRecord]:
    """One unanswered borrower call on each June `day` (several on a day if repeated)."""
    out = []
    for n, day in enumerate(days):
        at = new_york(2026, 6, day, hour) + timedelta(minutes=n)
        out.append(record(channel, at, "unanswered", NY_PHONE))
    return out


# ------------------------------------------------------------------ us_regf.seven_in_seven


def test_us_regf_seven_in_seven_allows_the_7th_call() -> None:
    ledger = ledger_of(*_ny_calls([1, 2, 3, 4, 5, 6]))
    assert us_decide(propose("call", new_york(2026, 6, 7, 10, 0), NY_PHONE), ledger).allowed


def test_us_regf_seven_in_seven_refuses_the_8th_until_the_oldest_leaves_the_window() -> None:
    ledger = ledger_of(*_ny_calls([1, 2, 3, 4, 5, 6, 7]))
    refused = us_decide(propose("call", new_york(2026, 6, 7, 15, 0), NY_PHONE), ledger)
    assert refused.rule == "us_regf.seven_in_seven"
    # The call of June 1 leaves the 7-day window when June 8 begins; the window opens at 08:00.
    assert refused.earliest == new_york(2026, 6, 8, 8, 0)
    assert "7 already" in refused.reason and "2026-06-01 to 2026-06-07" in refused.reason
    assert us_decide(propose("call", new_york(2026, 6, 8, 8, 0), NY_PHONE), ledger).allowed


def test_us_regf_seven_in_seven_counts_consecutive_days_not_calls_per_day() -> None:
    # Four calls on June 1 and three on June 2: refused through June 7, allowed on June 8 (the
    # window June 2-8 then holds three).
    ledger = ledger_of(*_ny_calls([1, 1, 1, 1, 2, 2, 2]))
    refused = us_decide(propose("call", new_york(2026, 6, 7, 20, 0), NY_PHONE), ledger)
    assert refused.rule == "us_regf.seven_in_seven"
    assert refused.earliest == new_york(2026, 6, 8, 8, 0)


def test_us_regf_seven_in_seven_waits_for_the_7th_most_recent_call_to_leave() -> None:
    # Seven calls on June 3: nothing until June 10.
    ledger = ledger_of(*_ny_calls([3] * 7))
    refused = us_decide(propose("call", new_york(2026, 6, 9, 12, 0), NY_PHONE), ledger)
    assert refused.earliest == new_york(2026, 6, 10, 8, 0)


def test_us_regf_seven_in_seven_counts_voice_messages_and_not_texts() -> None:
    voice = ledger_of(*_ny_calls([1, 2, 3, 4, 5, 6, 7], channel="voice"))
    assert us_decide(propose("call", new_york(2026, 6, 7, 15), NY_PHONE), voice).rule == (
        "us_regf.seven_in_seven"
    )
    assert us_decide(propose("sms", new_york(2026, 6, 7, 15), NY_PHONE), voice).allowed
    texts = ledger_of(
        *[record("sms", new_york(2026, 6, d, 10), "sent", NY_PHONE) for d in range(1, 8)]
    )
    assert us_decide(propose("call", new_york(2026, 6, 7, 15), NY_PHONE), texts).allowed


def test_us_regf_seven_in_seven_counts_calls_to_the_borrower_only() -> None:
    guarantor = ledger_of(
        *[
            record("call", new_york(2026, 6, d, 10), "unanswered", US_CONTACT, party="guarantor")
            for d in range(1, 8)
        ]
    )
    assert us_decide(propose("call", new_york(2026, 6, 7, 15), NY_PHONE), guarantor).allowed


# -------------------------------------------------------------- us_regf.after_conversation


def test_us_regf_after_conversation_refuses_calls_on_day_7() -> None:
    talk = record("call", new_york(2026, 6, 1, 20, 30), "connected", NY_PHONE, conversation=True)
    ledger = ledger_of(talk)
    refused = us_decide(propose("call", new_york(2026, 6, 7, 20, 59, 59), NY_PHONE), ledger)
    assert refused.rule == "us_regf.after_conversation"
    assert "day 7" in refused.reason
    assert refused.earliest == new_york(2026, 6, 8, 8, 0)


def test_us_regf_after_conversation_allows_calls_on_day_8() -> None:
    talk = record("call", new_york(2026, 6, 1, 8, 0), "connected", NY_PHONE, conversation=True)
    ledger = ledger_of(talk)
    assert us_decide(propose("call", new_york(2026, 6, 8, 8, 0), NY_PHONE), ledger).allowed
    assert us_decide(propose("voice", new_york(2026, 6, 8, 8, 0), NY_PHONE), ledger).allowed


def test_us_regf_after_conversation_pauses_calls_not_texts_or_letters() -> None:
    talk = record("call", new_york(2026, 6, 1, 12, 0), "connected", NY_PHONE, conversation=True)
    ledger = ledger_of(talk)
    assert us_decide(propose("voice", new_york(2026, 6, 2, 12), NY_PHONE), ledger).rule == (
        "us_regf.after_conversation"
    )
    assert us_decide(propose("sms", new_york(2026, 6, 2, 12), NY_PHONE), ledger).allowed
    assert us_decide(propose("letter", new_york(2026, 6, 2, 12)), ledger).allowed


def test_us_regf_after_conversation_needs_a_conversation_not_just_a_connection() -> None:
    hello = record("call", new_york(2026, 6, 1, 12, 0), "connected", NY_PHONE)
    assert us_decide(propose("call", new_york(2026, 6, 2, 12), NY_PHONE), ledger_of(hello)).allowed


# ---------------------------------------------------------------------- us_ma.two_in_seven


def test_us_ma_two_in_seven_allows_the_2nd_phone_contact() -> None:
    ledger = ledger_of(record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE))
    assert ma_decide(propose("call", new_york(2026, 6, 2, 10), BOS_PHONE), ledger).allowed


def test_us_ma_two_in_seven_refuses_the_3rd_counting_texts() -> None:
    ledger = ledger_of(
        record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE),
        record("call", new_york(2026, 6, 3, 10), "unanswered", BOS_PHONE),
    )
    for channel in ("sms", "call", "voice"):
        refused = ma_decide(propose(channel, new_york(2026, 6, 7, 10), BOS_PHONE), ledger)
        assert refused.rule == "us_ma.two_in_seven", channel
        assert refused.earliest == new_york(2026, 6, 8, 8, 0)
    assert ma_decide(propose("sms", new_york(2026, 6, 8, 8), BOS_PHONE), ledger).allowed


def test_us_ma_two_in_seven_leaves_letters_alone() -> None:
    ledger = ledger_of(
        record("sms", new_york(2026, 6, 1, 10), "sent", BOS_PHONE),
        record("sms", new_york(2026, 6, 2, 10), "sent", BOS_PHONE),
    )
    assert ma_decide(propose("letter", new_york(2026, 6, 3, 10)), ledger).allowed


def test_us_ma_keeps_the_federal_pause_after_a_conversation() -> None:
    talk = record("call", new_york(2026, 6, 1, 12), "connected", BOS_PHONE, conversation=True)
    refused = ma_decide(propose("call", new_york(2026, 6, 3, 12), BOS_PHONE), ledger_of(talk))
    assert refused.rule == "us_regf.after_conversation"


# -------------------------------------------------------------- cn.connected_calls_per_day


def test_cn_connected_calls_per_day_allows_the_3rd_connected_call() -> None:
    ledger = ledger_of(
        record("call", shanghai(2026, 6, 2, 9), "connected", CN_MOBILE),
        record("call", shanghai(2026, 6, 2, 10), "connected", CN_MOBILE_2, actor="agency"),
    )
    assert cn_decide(propose("call", shanghai(2026, 6, 2, 11), CN_MOBILE), ledger).allowed


def test_cn_connected_calls_per_day_refuses_a_4th_counting_agencies_until_the_next_day() -> None:
    ledger = ledger_of(
        record("call", shanghai(2026, 6, 2, 9), "connected", CN_MOBILE),
        record("call", shanghai(2026, 6, 2, 10), "connected", CN_MOBILE_2, actor="agency"),
        record("call", shanghai(2026, 6, 2, 11), "connected", CN_MOBILE, actor="agency"),
    )
    refused = cn_decide(propose("call", shanghai(2026, 6, 2, 15), CN_MOBILE_2), ledger)
    assert refused.rule == "cn.connected_calls_per_day"
    assert "3 already on 2026-06-02" in refused.reason
    assert refused.earliest == shanghai(2026, 6, 3, 8, 0)
    assert cn_decide(propose("call", shanghai(2026, 6, 3, 8), CN_MOBILE_2), ledger).allowed


def test_cn_connected_calls_per_day_ignores_unanswered_attempts() -> None:
    ledger = ledger_of(
        *[record("call", shanghai(2026, 6, 2, 9, m), "unanswered", CN_MOBILE) for m in range(3)]
    )
    assert cn_decide(propose("call", shanghai(2026, 6, 2, 15), CN_MOBILE_2), ledger).allowed


def test_cn_connected_calls_per_day_uses_the_borrowers_local_day() -> None:
    # 16:30 UTC on June 1 is 00:30 on June 2 in Shanghai: the same local day as 08:00 on June 2
    # (00:00 UTC June 2), though not the same UTC day; 15:30 UTC is still June 1 locally.
    late = [datetime(2026, 6, 1, 16, 30 + m, tzinfo=UTC) for m in range(3)]
    ledger = ledger_of(*[record("call", at, "connected", CN_MOBILE) for at in late])
    morning = datetime(2026, 6, 2, 0, 0, tzinfo=UTC)
    assert cn_decide(propose("call", morning, CN_MOBILE), ledger).rule == (
        "cn.connected_calls_per_day"
    )
    earlier = [datetime(2026, 6, 1, 15, 30 + m, tzinfo=UTC) for m in range(3)]
    ledger = ledger_of(*[record("call", at, "connected", CN_MOBILE) for at in earlier])
    assert cn_decide(propose("call", morning, CN_MOBILE), ledger).allowed


# ------------------------------------------------------ cn.unanswered_per_number_per_day


def _unanswered(number: str, n: int) -> list[ContactRecord]:
    return [record("call", shanghai(2026, 6, 2, 9, m), "unanswered", number) for m in range(n)]


def test_cn_unanswered_per_number_per_day_allows_the_6th_attempt() -> None:
    ledger = ledger_of(*_unanswered(CN_MOBILE, 5))
    assert cn_decide(propose("call", shanghai(2026, 6, 2, 12), CN_MOBILE), ledger).allowed


def test_cn_unanswered_per_number_per_day_refuses_the_7th_on_that_number_only() -> None:
    ledger = ledger_of(*_unanswered(CN_MOBILE, 6))
    refused = cn_decide(propose("call", shanghai(2026, 6, 2, 12), CN_MOBILE), ledger)
    assert refused.rule == "cn.unanswered_per_number_per_day"
    assert refused.earliest == shanghai(2026, 6, 3, 8, 0)
    assert cn_decide(propose("call", shanghai(2026, 6, 2, 12), CN_MOBILE_2), ledger).allowed
    assert cn_decide(propose("voice", shanghai(2026, 6, 2, 12), CN_MOBILE), ledger).rule == (
        "cn.unanswered_per_number_per_day"
    )
    assert cn_decide(propose("sms", shanghai(2026, 6, 2, 12), CN_MOBILE), ledger).allowed
    assert cn_decide(propose("call", shanghai(2026, 6, 3, 8), CN_MOBILE), ledger).allowed
