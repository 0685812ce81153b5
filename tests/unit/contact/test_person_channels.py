"""The person's numbers and consents across a borrower's loans (domain.contact.person_channels):
a loss or a restoration on one loan reaches the person, a loan's unreported change survives the
person's facts being merged in, and a first report only adds restrictions."""

from __future__ import annotations

from domain.contact import ContactRecord
from domain.contact.borrower import BorrowerBook, GrantCandidate, decide_grants
from domain.contact.ledger import ContactLedger
from domain.contact.person_channels import (
    PersonChannels,
    adopt,
    channels_of,
    first_base,
    learn,
    with_person,
)
from domain.contact.public_holidays import active_calendars

from .support import CN, CN_CTX, CN_MOBILE, shanghai

X = "+8613800138000"
Y = "+862161234567"


def test_a_first_report_adds_its_dead_numbers_and_withdrawn_consents_but_lifts_nothing() -> None:
    person = PersonChannels(version=3, dead_numbers=[Y], consents={"voice": False})
    loan = ContactLedger(dead_numbers=[X], consents={"sms": False, "voice": True})
    learnt = learn(person, None, channels_of(loan))
    assert learnt.dead_numbers == sorted([X, Y])
    assert learnt.consents == {"sms": False, "voice": False}
    assert learnt.version == 4


def test_a_report_with_nothing_new_keeps_the_version() -> None:
    person = PersonChannels(version=2, dead_numbers=[X])
    loan = ContactLedger(dead_numbers=[X], consents={"sms": True, "voice": True})
    assert learn(person, person, channels_of(loan)) is person


def test_a_number_restored_on_a_loan_is_alive_again_for_the_person() -> None:
    person = PersonChannels(version=5, dead_numbers=[X, Y])
    reported = PersonChannels(dead_numbers=[Y])  # the loan dropped X since it took v5
    learnt = learn(person, person, reported)
    assert learnt.dead_numbers == [Y]
    assert learnt.version == 6


def test_adopting_keeps_the_loans_own_change_made_meanwhile() -> None:
    base = PersonChannels(version=1)
    person = PersonChannels(version=2, dead_numbers=[X], revoked_numbers_sms=[Y])
    loan = ContactLedger(no_sms_numbers=[Y], consents={"sms": True, "voice": False})
    adopted = adopt(loan, base, person)
    assert adopted.dead_numbers == [X]
    assert adopted.revoked_numbers_sms == [Y]
    assert adopted.no_sms_numbers == [Y]  # the loan's own, not yet reported
    assert adopted.consents == {"sms": True, "voice": False}


def test_adopting_a_restoration_drops_the_number_from_the_loans_dead_list() -> None:
    base = PersonChannels(version=1, dead_numbers=[X])
    person = PersonChannels(version=2)
    loan = ContactLedger(dead_numbers=[X])
    assert adopt(loan, base, person).dead_numbers == []


def test_a_consent_given_again_elsewhere_is_given_again_on_the_loan() -> None:
    base = PersonChannels(version=1, consents={"sms": False})
    person = PersonChannels(version=2, consents={"sms": True})
    loan = ContactLedger(consents={"sms": False, "voice": True})
    assert adopt(loan, base, person).consents == {"sms": True, "voice": True}


def test_a_loan_that_never_heard_from_its_borrower_keeps_its_own_withdrawal() -> None:
    loan = ContactLedger(consents={"sms": False, "voice": True})
    adopted = adopt(loan, first_base(channels_of(loan)), PersonChannels(version=1))
    assert adopted.consents["sms"] is False


def test_a_grant_is_decided_on_every_restriction_of_the_loan_and_the_person() -> None:
    loan = ContactLedger(dead_numbers=[Y], consents={"sms": True, "voice": True})
    person = PersonChannels(dead_numbers=[X], revoked_numbers_sms=[Y], consents={"sms": False})
    ledger = with_person(loan, person)
    assert ledger.is_dead(X) and ledger.is_dead(Y)
    assert not ledger.consent_given("sms") and ledger.consent_given("voice")
    assert not ledger.sms_allowed_to(Y)


def test_consents_left_out_mean_given_when_comparing() -> None:
    assert PersonChannels(consents={"sms": True}).same_facts(PersonChannels())
    assert not PersonChannels(consents={"sms": False}).same_facts(PersonChannels())


def test_a_call_to_a_number_another_loan_found_dead_is_refused_by_the_borrower() -> None:
    """The loan has not heard yet (its own ledger says the mobile works): the grant, decided
    with the person's facts, refuses the call naming the rule, with no instant to move it to."""

    book = BorrowerBook(channels=PersonChannels(version=1, dead_numbers=[CN_MOBILE]))
    at = shanghai(2026, 6, 1, 10)
    record = ContactRecord(at=at, channel="call", target=CN_MOBILE, result="unanswered")
    candidate = GrantCandidate(
        grant_id="B:e:3", record=record.model_copy(update={"pending_task": "t"})
    )
    _, [answer] = decide_grants(
        book, "B", ContactLedger(), [candidate], CN, CN_CTX, active_calendars()
    )
    assert not answer.granted
    assert answer.rule == "borrower.number.dead" and answer.earliest is None
    sms = ContactRecord(at=at, channel="sms", target=CN_MOBILE, result="sent")
    stopped = BorrowerBook(channels=PersonChannels(version=1, revoked_numbers_sms=[CN_MOBILE]))
    _, [text] = decide_grants(
        stopped,
        "B",
        ContactLedger(),
        [GrantCandidate(grant_id="B:e:4", record=sms)],
        CN,
        CN_CTX,
        active_calendars(),
    )
    assert not text.granted and text.rule == "borrower.consent.sms"
