"""audit_ledger: an independent brute-force check finds every breach in a contact history."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.contact import (
    BorrowerContext,
    ConsentChange,
    ContactProfile,
    ContactRecord,
    Hold,
    audit_ledger,
)

from .support import (
    BOS_PHONE,
    CN,
    CN_CONTACT,
    CN_CTX,
    CN_MOBILE,
    CN_MOBILE_2,
    LA_PHONE,
    MA,
    MA_CTX,
    NY_CTX,
    NY_PHONE,
    US,
    new_york,
    record,
    shanghai,
)


def _rules(
    records: list[ContactRecord],
    profile: ContactProfile = CN,
    ctx: BorrowerContext = CN_CTX,
    holds: list[Hold] | None = None,
    dead_since: dict[str, datetime] | None = None,
    consent_changes: list[ConsentChange] | None = None,
) -> list[str]:
    found = audit_ledger(
        records,
        holds or [],
        profile,
        ctx,
        dead_since=dead_since,
        consent_changes=consent_changes,
    )
    return [v.rule for v in found]


def test_audit_of_a_clean_history_finds_nothing() -> None:
    records = [
        record("sms", shanghai(2026, 6, 2, 9), "sent", CN_MOBILE),
        record("call", shanghai(2026, 6, 2, 10), "connected", CN_MOBILE),
        record("letter", shanghai(2026, 6, 2, 23), "sent"),
    ]
    assert audit_ledger(records, [], CN, CN_CTX) == []


def test_audit_finds_quiet_hours_breaches_with_the_local_time() -> None:
    breach = record("call", shanghai(2026, 6, 2, 22, 0), "unanswered", CN_MOBILE)
    found = audit_ledger([breach], [], CN, CN_CTX)
    assert [v.rule for v in found] == ["cn.quiet_hours"]
    assert "2026-06-02 22:00:00 Asia/Shanghai" in found[0].reason
    assert _rules([record("call", shanghai(2026, 6, 2, 21, 59, 59), "connected", CN_MOBILE)]) == []


def test_audit_finds_a_call_outside_the_area_code_window() -> None:
    at = new_york(2026, 6, 2, 10, 30)  # 07:30 in Los Angeles
    assert _rules([record("call", at, "connected", LA_PHONE)], profile=US, ctx=NY_CTX) == [
        "us_regf.call_window"
    ]


def test_audit_finds_the_8th_call_in_7_days() -> None:
    calls = [record("call", new_york(2026, 6, d, 10), "unanswered", NY_PHONE) for d in range(1, 9)]
    # The 8th (June 8) is fine: June 1 has left its window. A 9th on June 8 is not.
    assert _rules(calls, profile=US, ctx=NY_CTX) == []
    ninth = record("call", new_york(2026, 6, 8, 12), "unanswered", NY_PHONE)
    assert _rules([*calls, ninth], profile=US, ctx=NY_CTX) == ["us_regf.seven_in_seven"]


def test_audit_finds_a_call_on_day_7_after_a_conversation() -> None:
    talk = record("call", new_york(2026, 6, 1, 12), "connected", NY_PHONE, conversation=True)
    day7 = record("call", new_york(2026, 6, 7, 12), "unanswered", NY_PHONE)
    day8 = record("call", new_york(2026, 6, 8, 8), "unanswered", NY_PHONE)
    assert _rules([talk, day7], profile=US, ctx=NY_CTX) == ["us_regf.after_conversation"]
    assert _rules([talk, day8], profile=US, ctx=NY_CTX) == []


def test_audit_finds_a_third_text_in_7_days_in_massachusetts() -> None:
    texts = [record("sms", new_york(2026, 6, d, 10), "sent", BOS_PHONE) for d in (1, 3, 5)]
    assert _rules(texts, profile=MA, ctx=MA_CTX) == ["us_ma.two_in_seven"]


def test_audit_finds_a_4th_connected_call_and_a_7th_unanswered_attempt() -> None:
    connected = [
        record("call", shanghai(2026, 6, 2, 9, m), "connected", CN_MOBILE, actor=actor)
        for m, actor in enumerate(["us", "agency", "us", "agency"])
    ]
    assert _rules(connected) == ["cn.connected_calls_per_day"]
    unanswered = [
        record("call", shanghai(2026, 6, 2, 9, m), "unanswered", CN_MOBILE) for m in range(7)
    ]
    other = record("call", shanghai(2026, 6, 2, 10), "unanswered", CN_MOBILE_2)
    assert _rules([*unanswered, other]) == ["cn.unanswered_per_number_per_day"]


def test_audit_finds_contacts_during_holds() -> None:
    since = shanghai(2026, 6, 1)
    holds = [
        Hold(kind="dispute", since=since, until=since + timedelta(days=2)),
        Hold(kind="bankruptcy", since=since + timedelta(days=5)),
    ]
    records = [
        record("call", shanghai(2026, 6, 1, 10), "connected", CN_MOBILE),  # dispute
        record("letter", shanghai(2026, 6, 2, 10), "sent", purpose="notice"),  # allowed
        record("call", shanghai(2026, 6, 3, 10), "connected", CN_MOBILE),  # dispute ended
        record("letter", shanghai(2026, 6, 6, 10), "sent", purpose="notice"),  # bankruptcy
    ]
    assert _rules(records, holds=holds) == ["hold.dispute", "hold.bankruptcy"]


def test_audit_finds_letters_and_visits_on_public_holidays() -> None:
    records = [
        record("letter", shanghai(2026, 10, 1, 10), "sent"),
        record("field_visit", shanghai(2026, 10, 2, 10), "visited"),
        record("letter", shanghai(2026, 10, 10, 10), "sent"),  # make-up working Saturday
    ]
    assert _rules(records) == ["holiday.letter", "holiday.field_visit"]


def test_audit_finds_third_party_contacts_while_the_borrower_was_reachable() -> None:
    early = record(
        "call", shanghai(2026, 6, 2, 9), "connected", CN_CONTACT, "third_party", purpose="locate"
    )
    failed = [
        record("call", shanghai(2026, 6, 2, 10 + i), "unanswered", CN_MOBILE) for i in range(3)
    ]
    later = record(
        "call", shanghai(2026, 6, 2, 14), "connected", CN_CONTACT, "third_party", purpose="locate"
    )
    collect = record("call", shanghai(2026, 6, 2, 15), "connected", CN_CONTACT, "third_party")
    assert _rules([early, *failed, later, collect]) == [
        "cn.third_party_only_when_unreachable",
        "cn.third_party_only_when_unreachable",
    ]


def test_audit_judges_dead_numbers_and_consent_only_from_their_history() -> None:
    dead_at = shanghai(2026, 6, 2, 12)
    before = record("call", shanghai(2026, 6, 2, 11), "failed", CN_MOBILE)
    after = record("sms", shanghai(2026, 6, 2, 13), "sent", CN_MOBILE)
    assert _rules([before, after]) == []
    assert _rules([before, after], dead_since={CN_MOBILE: dead_at}) == ["number.dead"]
    changes = [
        ConsentChange(at=shanghai(2026, 6, 2, 12, 30), channel="sms", granted=False),
        ConsentChange(at=shanghai(2026, 6, 2, 14), channel="sms", granted=True),
    ]
    restored = record("sms", shanghai(2026, 6, 2, 15), "sent", CN_MOBILE_2)
    assert _rules([after, restored], consent_changes=changes) == ["consent.sms"]
    stop = [ConsentChange(at=dead_at, channel="sms", granted=False, number=CN_MOBILE)]
    assert _rules([after, restored], consent_changes=stop) == ["consent.sms"]
