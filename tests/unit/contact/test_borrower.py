"""The borrower-level decision (`domain.contact.borrower`): the contact profile's caps count the
person's contacts across every loan (agencies' included), a grant asked twice counts once, the
loan's own report replaces what the book held for it, and a borrower hold on one loan binds
them all. Made-up instants; the rules are the gate's own (`earliest_allowed`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.contact import ContactLedger, ContactRecord
from domain.contact.borrower import (
    BorrowerBook,
    BorrowerFacts,
    GrantAnswer,
    GrantCandidate,
    HolderEvent,
    HoldEvent,
    Withdrawal,
    apply_hold_event,
    apply_holder_event,
    barred_pending_calls,
    caps_left,
    conflicts,
    contacts_between,
    decide_grants,
)
from domain.contact.public_holidays import active_calendars

from .support import CN, CN_CTX, CN_MOBILE, NEW_YORK, NY_CTX, NY_PHONE, US, new_york, shanghai

SHANGHAI = "Asia/Shanghai"


def call(
    at: datetime, result: str = "connected", actor: str = "us", task: str | None = None
) -> ContactRecord:
    return ContactRecord.model_validate(
        {
            "at": at,
            "channel": "call",
            "target": CN_MOBILE if at.utcoffset() == timedelta(hours=8) else NY_PHONE,
            "result": result,
            "actor": actor,
            "pending_task": task,
        }
    )


def ledger(*records: ContactRecord) -> ContactLedger:
    return ContactLedger(records=list(records))


def cn_grants(
    book: BorrowerBook, loan: str, own: ContactLedger, *candidates: GrantCandidate
) -> tuple[BorrowerBook, list[GrantAnswer]]:
    return decide_grants(book, loan, own, list(candidates), CN, CN_CTX, active_calendars())


def pending_call(grant_id: str, at: datetime) -> GrantCandidate:
    return GrantCandidate(grant_id=grant_id, record=call(at, "unanswered", task=grant_id))


# ----------------------------------------------------------------------- caps across loans


def test_cn_third_connected_call_of_the_day_is_granted_and_a_fourth_on_another_loan_refused() -> (
    None
):
    morning = shanghai(2026, 6, 1, 9)
    book, _ = cn_grants(BorrowerBook(), "A", ledger(call(morning), call(morning.replace(hour=10))))
    book, [third] = cn_grants(book, "B", ledger(), pending_call("B:1", shanghai(2026, 6, 1, 14)))
    assert third.granted
    book, [fourth] = cn_grants(book, "C", ledger(), pending_call("C:1", shanghai(2026, 6, 1, 15)))
    assert not fourth.granted
    assert fourth.rule == "borrower.cn.connected_calls_per_day"
    assert fourth.earliest == shanghai(2026, 6, 2, 8)


def test_an_agencys_connected_calls_on_one_loan_count_for_the_others() -> None:
    at = shanghai(2026, 6, 1, 9)
    agency = ledger(*(call(at + timedelta(minutes=m), actor="agency") for m in (0, 30, 60)))
    book, _ = cn_grants(BorrowerBook(), "A", agency)
    _, [answer] = cn_grants(book, "B", ledger(), pending_call("B:1", shanghai(2026, 6, 1, 14)))
    assert not answer.granted


def test_two_candidates_in_one_request_cannot_both_take_the_last_call() -> None:
    at = shanghai(2026, 6, 1, 9)
    book, _ = cn_grants(BorrowerBook(), "A", ledger(call(at), call(at + timedelta(hours=1))))
    _, answers = cn_grants(
        book,
        "B",
        ledger(),
        pending_call("B:1", shanghai(2026, 6, 1, 14)),
        pending_call("B:2", shanghai(2026, 6, 1, 16)),
    )
    assert [a.granted for a in answers] == [True, False]


def test_us_regf_seven_attempts_in_seven_days_count_both_loans() -> None:
    attempts_a = [call(new_york(2026, 6, d, 10), "unanswered") for d in (1, 2, 3, 3)]
    attempts_b = [call(new_york(2026, 6, d, 11), "unanswered") for d in (2, 4, 5)]

    def us(
        book: BorrowerBook, loan: str, own: ContactLedger, *c: GrantCandidate
    ) -> tuple[BorrowerBook, list[GrantAnswer]]:
        return decide_grants(book, loan, own, list(c), US, NY_CTX, active_calendars())

    book, _ = us(BorrowerBook(), "A", ledger(*attempts_a))
    candidate = pending_call("B:9", new_york(2026, 6, 6, 10))
    _, [answer] = us(book, "B", ledger(*attempts_b), candidate)
    assert not answer.granted
    assert answer.rule == "borrower.us_regf.seven_in_seven"
    # The window slides past 1 June on the 8th: one attempt may go again then.
    assert answer.earliest == new_york(2026, 6, 8, 8)
    _, [solo] = us(BorrowerBook(), "B", ledger(*attempts_b), candidate)
    assert solo.granted, "the same loan alone is under the cap"


# ----------------------------------------------------------------------- retries and reports


def test_a_grant_asked_twice_is_answered_the_same_and_counted_once() -> None:
    first = pending_call("B:1", shanghai(2026, 6, 1, 14))
    book, [granted] = cn_grants(BorrowerBook(), "B", ledger(), first)
    again, [same] = cn_grants(book, "B", ledger(), first)
    assert granted == same and same.granted
    assert len(again.loans["B"]) == 1


def test_the_loans_own_report_replaces_what_the_book_held_for_it() -> None:
    """A task nobody worked expired: the loan reports its ledger without the pending call,
    and the borrower's budget has room again."""
    at = shanghai(2026, 6, 1, 10)
    book, _ = cn_grants(
        BorrowerBook(), "A", ledger(), *(pending_call(f"A:{i}", at) for i in range(3))
    )
    _, [refused] = cn_grants(book, "B", ledger(), pending_call("B:1", at))
    assert not refused.granted
    book, _ = cn_grants(book, "A", ledger())  # the three expired
    _, [granted] = cn_grants(book, "B", ledger(), pending_call("B:2", at))
    assert granted.granted


def test_caps_left_and_contacts_today_count_every_loan() -> None:
    at = shanghai(2026, 6, 1, 9)
    book, _ = cn_grants(BorrowerBook(), "A", ledger(call(at)))
    book, _ = cn_grants(book, "B", ledger(call(at + timedelta(hours=2))))
    day = at.date()
    assert caps_left(book, CN, SHANGHAI, day) == {"cn.connected_calls_per_day": 1}
    start = shanghai(2026, 6, 1)
    assert contacts_between(book, start, start + timedelta(days=1)) == 2
    assert contacts_between(book, start + timedelta(days=1), start + timedelta(days=2)) == 0


def test_pruning_keeps_only_the_rolling_window() -> None:
    old, recent = shanghai(2026, 5, 1, 9), shanghai(2026, 6, 1, 9)
    book, _ = cn_grants(BorrowerBook(), "A", ledger(call(old), call(recent)))
    assert [r.at for r in book.pruned(shanghai(2026, 5, 20)).loans["A"]] == [recent]


# ----------------------------------------------------------------------- borrower holds


def event(key: str, kind: str, placed: bool, at: datetime) -> HoldEvent:
    return HoldEvent(key=key, loan_id="A", kind=kind, placed=placed, at=at)


def test_a_borrower_hold_on_one_loan_refuses_every_loans_contacts_until_released() -> None:
    placed_at = shanghai(2026, 6, 1, 9)
    book, changed = apply_hold_event(
        BorrowerBook(), event("A:7", "cease_communication", True, placed_at)
    )
    assert changed
    call_at = shanghai(2026, 6, 1, 14)
    _, [refused] = cn_grants(book, "B", ledger(), pending_call("B:1", call_at))
    assert not refused.granted and refused.earliest is None
    assert refused.rule is not None and refused.rule.startswith("borrower.")

    repeated, again = apply_hold_event(book, event("A:7", "cease_communication", True, placed_at))
    assert not again and repeated.holds == book.holds
    released_at = shanghai(2026, 6, 1, 12)
    book, changed = apply_hold_event(book, event("A:9", "cease_communication", False, released_at))
    assert changed
    _, [granted] = cn_grants(book, "B", ledger(), pending_call("B:2", call_at))
    assert granted.granted


def test_loan_level_holds_are_not_the_borrowers() -> None:
    book, changed = apply_hold_event(
        BorrowerBook(), event("A:1", "dispute", True, shanghai(2026, 6, 1, 9))
    )
    assert not changed and book.holds == []


# ----------------------------------------------------------------------- facts


def test_facts_that_differ_from_the_borrowers_other_loans_are_named() -> None:
    known = BorrowerFacts(name="Wang Fang", timezone=SHANGHAI, jurisdiction="CN")
    assert conflicts(None, known) == []
    assert conflicts(known, known) == []
    found = conflicts(known, BorrowerFacts(name="Li Wei", timezone=NEW_YORK, jurisdiction="US"))
    assert [f.split()[0] for f in found] == ["timezone", "jurisdiction", "name"]
    assert "'America/New_York' differs from 'Asia/Shanghai'" in found[0]


# ----------------------------------------------------------------------- open tasks barred later


def test_a_conversation_on_one_loan_withdraws_the_other_loans_open_call_under_reg_f() -> None:
    open_call = pending_call("B:4", new_york(2026, 6, 2, 14)).record
    talked = call(new_york(2026, 6, 2, 10)).model_copy(update={"conversation": True})
    book = BorrowerBook(loans={"A": [talked], "B": [open_call]})
    found = barred_pending_calls(book, new_york(2026, 6, 2, 11), US, NY_CTX, active_calendars())
    assert found == [Withdrawal(loan_id="B", task_id="B:4", rule="us_regf.after_conversation")]
    quiet = BorrowerBook(
        loans={"A": [call(new_york(2026, 6, 2, 10), "unanswered")], "B": [open_call]}
    )
    assert (
        barred_pending_calls(quiet, new_york(2026, 6, 2, 11), US, NY_CTX, active_calendars()) == []
    )


def test_open_calls_within_the_cap_stay_and_only_as_many_as_must_go_are_withdrawn() -> None:
    """Three open calls today on three loans: within cn's 3 a day. An agency's connected call
    on a fourth loan makes four: the latest open call (only) is withdrawn."""
    book = BorrowerBook(
        loans={
            loan: [pending_call(f"{loan}:1", shanghai(2026, 6, 1, hour)).record]
            for loan, hour in (("A", 14), ("B", 15), ("C", 16))
        }
    )
    assert barred_pending_calls(book, shanghai(2026, 6, 1, 9), CN, CN_CTX, active_calendars()) == []
    agency = call(shanghai(2026, 6, 1, 9), actor="agency")
    talked = book.model_copy(update={"loans": {**book.loans, "D": [agency]}})
    found = barred_pending_calls(talked, shanghai(2026, 6, 1, 10), CN, CN_CTX, active_calendars())
    assert found == [Withdrawal(loan_id="C", task_id="C:1", rule="cn.connected_calls_per_day")]


def test_a_new_holder_on_one_loan_is_the_borrowers_once() -> None:
    moved = HolderEvent(
        key="A:3", loan_id="A", to="bob", kind="reassignment", reason="r", at=shanghai(2026, 6, 1)
    )
    book, changed = apply_holder_event(BorrowerBook(), moved)
    assert changed and book.holder == "bob"
    again, changed = apply_holder_event(book, moved)
    assert not changed and again == book
    same = moved.model_copy(update={"key": "B:9", "loan_id": "B"})
    assert apply_holder_event(book, same)[1] is False, "bob holds the borrower already"
