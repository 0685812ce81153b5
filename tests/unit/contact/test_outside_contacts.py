"""Contacts that reach the ledger from outside our own tasks: an agency's daily file and a
conversation told with a promise (workflows.account.contacts), as the rules count them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workflows.account.contacts import agency_record, conversation_record
from workflows.contracts import AgencyContact

from .support import (
    CN_MOBILE,
    NY_PHONE,
    cn_decide,
    ledger_of,
    new_york,
    propose,
    record,
    shanghai,
    us_decide,
)


def test_agency_connected_calls_count_with_ours_against_cn_connected_calls_per_day() -> None:
    ledger = ledger_of(
        record("call", shanghai(2026, 12, 7, 9, 0), "connected", CN_MOBILE),
        agency_record("call", CN_MOBILE, "connected", shanghai(2026, 12, 7, 9, 30)),
        agency_record("call", CN_MOBILE, "connected", shanghai(2026, 12, 7, 10, 0)),
    )
    decision = cn_decide(propose("call", shanghai(2026, 12, 7, 11, 0), CN_MOBILE), ledger)
    assert decision.rule == "cn.connected_calls_per_day"
    assert decision.earliest == shanghai(2026, 12, 8, 8, 0)


def test_agency_unanswered_calls_and_visits_do_not_count_as_connected_calls() -> None:
    ledger = ledger_of(
        *(
            agency_record("call", CN_MOBILE, "unanswered", shanghai(2026, 12, 7, 9, m))
            for m in (0, 10, 20)
        ),
        agency_record("field_visit", None, "visited", shanghai(2026, 12, 7, 9, 40)),
    )
    assert cn_decide(propose("call", shanghai(2026, 12, 7, 11, 0), CN_MOBILE), ledger).allowed


def test_an_agency_record_is_the_agencys_and_a_connected_call_is_a_conversation() -> None:
    call = agency_record("call", CN_MOBILE, "connected", shanghai(2026, 12, 7, 9, 0))
    assert (call.actor, call.conversation, call.party) == ("agency", True, "borrower")
    text = agency_record("sms", CN_MOBILE, "sent", shanghai(2026, 12, 7, 9, 0))
    assert (text.actor, text.conversation) == ("agency", False)


def test_a_conversation_told_with_a_promise_pauses_us_calls_through_day_7() -> None:
    talk = conversation_record(NY_PHONE, new_york(2026, 12, 7, 12, 0))
    assert talk is not None and talk.conversation
    ledger = ledger_of(talk)
    day_7 = us_decide(propose("call", new_york(2026, 12, 13, 12, 0), NY_PHONE), ledger)
    assert day_7.rule == "us_regf.after_conversation"
    assert day_7.earliest == new_york(2026, 12, 14, 8, 0)
    assert us_decide(propose("call", new_york(2026, 12, 14, 8, 0), NY_PHONE), ledger).allowed


def test_no_conversation_record_without_any_number() -> None:
    assert conversation_record(None, new_york(2026, 12, 7, 12, 0)) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"number": None}, "needs the number"),
        ({"result": "visited"}, "cannot have result 'visited'"),
        ({"channel": "letter", "result": "sent"}, "leave number empty"),
        ({"at": "2026-12-07T09:00:00"}, "timezone"),
        ({"contact_id": ""}, "at least 1 character"),
    ],
)
def test_an_agency_contact_that_makes_no_sense_is_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    good = {
        "contact_id": "HT-1",
        "agency_id": "AG-1",
        "at": "2026-12-07T01:00:00Z",
        "channel": "call",
        "number": CN_MOBILE,
        "result": "connected",
    }
    assert AgencyContact.model_validate(good).key == "AG-1:HT-1"
    with pytest.raises(ValidationError, match=message):
        AgencyContact.model_validate({**good, **change})
