"""The timeline's PII rules (issue 8): contact fields are masked by their key whatever their value
looks like, and the episode's own names, phones and addresses are scrubbed from free text; what
auditors need (instants, amounts, identifiers, bucket names) stays readable."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.timeline import TimelineEntry, scrub
from audit.timeline.scrub import Scrubber


def test_contact_fields_are_masked_by_key_even_when_they_do_not_look_like_contact_data() -> None:
    masked = scrub.masked(
        {
            "address": "1 Renmin Road, Huangpu",
            "contact_info": {"address": "9 Nanjing Road", "phones": []},
            "borrower_name": "Wang Fang",
            "email": "wang@example.com",
            "number": "+8613800138000",
            "payment_id": "9180000001",
            "amount": "1200.00",
            "bucket": "M1",
        }
    )
    assert masked == {
        "address": "***",
        "contact_info": "***",
        "borrower_name": "***",
        "email": "***",
        "number": "***",
        "payment_id": "9180000001",
        "amount": "1200.00",
        "bucket": "M1",
    }


def test_free_text_naming_the_borrower_or_quoting_their_address_is_scrubbed() -> None:
    scrubber = Scrubber()
    scrubber.learn(
        {
            "borrower": {
                "name": "Wang Fang",
                "phones": [{"kind": "mobile", "number": "+8613800138000"}],
                "address": "1 Renmin Road, Huangpu, Shanghai",
            },
            "contacts": [{"name": "Li Na", "phone": "+8613900139000"}],
        }
    )
    entry = TimelineEntry(
        at=datetime(2027, 1, 4, tzinfo=UTC),
        kind="hold",
        summary="dispute hold placed by alice, until released",
        reason="wang fang says she paid at the Renmin branch; her sister Li Na called from "
        "13900139000; earliest allowed 2027-01-04 08:00 Asia/Shanghai",
        inputs={"notes": "Fang moved to Huangpu", "promise_id": "P1", "bucket": "M1"},
        source="history",
    )
    scrubber.entry(entry)
    assert entry.reason == (
        "*** says she paid at the *** branch; her sister *** called from ***; earliest allowed "
        "2027-01-04 08:00 Asia/Shanghai"
    )
    assert entry.inputs == {"notes": "*** moved to ***", "promise_id": "P1", "bucket": "M1"}
    assert entry.summary == "dispute hold placed by alice, until released"


def test_instants_in_a_rule_s_explanation_are_not_taken_for_phone_numbers() -> None:
    masked = scrub.masked(
        {"reason": "it is 2026-11-30 10:00:00 (America/New_York); call 13800138000"}
    )
    assert masked == {"reason": "it is 2026-11-30 10:00:00 (America/New_York); call *******8000"}
