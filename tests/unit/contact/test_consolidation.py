"""Consolidation across a borrower's loans (`domain.contact.consolidation`, and the authority's
use of it in `workflows.borrower_consolidation`): one message per channel and local day names
every overdue loan, and covers the other loans' reminders that day; one open call task covers
the call steps of the loans it names while its window overlaps theirs; a promise on it is split
as the strategy says, to the cent. Made-up days and instants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.contact import ContactLedger, ContactRecord
from domain.contact.borrower import BorrowerBook, BorrowerFacts, GrantAnswer, GrantCandidate
from domain.contact.consolidation import (
    CandidateShape,
    ConsolidationBook,
    DueLine,
    LoanDue,
    NamedLoan,
    allocate_promise,
    cover,
    message_key,
    names_due_for,
    names_for,
    note_granted,
    scheduled_dues,
)
from domain.policy import EpisodePolicy, PolicyRef
from workflows.borrower_consolidation import (
    after_grants,
    before_grants,
    outcome_signals,
    registered,
)
from workflows.contracts.borrowers import GrantRequest, LoanRegistration

from .support import CN_CTX, shanghai

DAY = date(2026, 12, 9)


def due(loan: str, overdue: str, oldest: date, balance: str = "5000.00") -> LoanDue:
    return LoanDue(
        loan_id=loan,
        currency="CNY",
        as_of=DAY,
        amount_overdue=Decimal(overdue),
        balance=Decimal(balance),
        unpaid=[DueLine(due_date=oldest, unpaid=Decimal(overdue))],
    )


def sms(grant_id: str, at: datetime) -> CandidateShape:
    return CandidateShape(
        grant_id=grant_id, kind="message", channel="sms", day=at.date(), at=at, template="x"
    )


def call_shape(grant_id: str, at: datetime, hours: float = 1.5) -> CandidateShape:
    return CandidateShape(
        grant_id=grant_id,
        kind="call",
        channel="call",
        day=at.date(),
        at=at,
        until=at + timedelta(hours=hours),
        task_id=f"task-{grant_id}",
    )


def book_of(*dues: LoanDue) -> ConsolidationBook:
    return ConsolidationBook(dues={d.loan_id: d for d in dues})


# ----------------------------------------------------------------------- who is named


def test_a_message_names_every_loan_overdue_that_day_the_oldest_due_first() -> None:
    book = book_of(
        due("L-B", "800.00", DAY - timedelta(days=3)),
        due("L-A", "1200.00", DAY - timedelta(days=1)),
        due("L-C", "0", DAY + timedelta(days=5)),
    )
    assert [n.loan_id for n in names_for(book, DAY)] == ["L-B", "L-A"]


def test_an_instalment_that_fell_due_since_the_loans_report_makes_it_overdue() -> None:
    """A loan last reported the day before its due date (nothing overdue): the next day it is
    named with the instalment that fell due, without having to report again."""
    before = LoanDue(
        loan_id="L-N",
        currency="CNY",
        as_of=DAY - timedelta(days=1),
        amount_overdue=Decimal(0),
        balance=Decimal("1200.00"),
        unpaid=[DueLine(due_date=DAY - timedelta(days=1), unpaid=Decimal("1200.00"))],
    )
    assert before.overdue_on(DAY - timedelta(days=1)) == 0
    [named] = names_for(book_of(before), DAY)
    assert named.amount_overdue == Decimal("1200.00")
    assert named.oldest_due == DAY - timedelta(days=1)


# ----------------------------------------------------------------------- covering


def test_the_days_first_message_covers_the_other_loans_it_named_on_that_channel() -> None:
    at = shanghai(2026, 12, 9, 9)
    book = book_of(due("L-A", "100", DAY), due("L-B", "100", DAY))
    book = note_granted(book, "L-A", sms("L-A:e:3", at), names_for(book, DAY))
    covered = cover(book, "L-B", [sms("L-B:e:3", at + timedelta(minutes=1))], set())
    assert covered["L-B:e:3"].by_loan == "L-A" and covered["L-B:e:3"].by_grant == "L-A:e:3"
    # Another channel, another day, or a loan the message did not name: not covered.
    voice = sms("L-B:e:4", at).model_copy(update={"channel": "voice"})
    tomorrow = sms("L-B:e:5", at + timedelta(days=1))
    assert cover(book, "L-B", [voice, tomorrow], set()) == {}
    assert cover(book, "L-C", [sms("L-C:e:3", at)], set()) == {}


def test_letters_are_one_per_day_and_template() -> None:
    at = shanghai(2026, 12, 9, 9)
    assert message_key("letter", DAY, "reminder_letter") != message_key(
        "letter", DAY, "demand_letter"
    )
    assert message_key("sms", DAY, "a") == message_key("sms", DAY, "b")
    book = book_of(due("L-A", "100", DAY), due("L-B", "100", DAY))
    letter = sms("L-A:e:3", at).model_copy(update={"channel": "letter", "template": "reminder"})
    book = note_granted(book, "L-A", letter, names_for(book, DAY))
    same = letter.model_copy(update={"grant_id": "L-B:e:3"})
    other = same.model_copy(update={"grant_id": "L-B:e:4", "template": "demand"})
    assert set(cover(book, "L-B", [same, other], set())) == {"L-B:e:3"}


def test_an_open_call_task_covers_the_named_loans_call_while_the_windows_overlap() -> None:
    at = shanghai(2026, 12, 9, 10)
    book = book_of(due("L-A", "100", DAY), due("L-B", "100", DAY))
    book = note_granted(book, "L-A", call_shape("L-A:e:3", at), names_for(book, DAY))
    open_tasks = {"task-L-A:e:3"}
    covered = cover(book, "L-B", [call_shape("L-B:e:3", at + timedelta(minutes=5))], open_tasks)
    assert covered["L-B:e:3"].task_id == "task-L-A:e:3"
    evening = call_shape("L-B:e:4", at + timedelta(hours=9))
    assert cover(book, "L-B", [evening], open_tasks) == {}, "no overlap: a call of its own"
    worked = cover(book, "L-B", [call_shape("L-B:e:5", at)], set())
    assert worked == {}, "a task worked or cancelled covers nothing"


def test_a_covered_answer_is_given_again_to_a_retried_request() -> None:
    at = shanghai(2026, 12, 9, 9)
    book = book_of(due("L-A", "100", DAY), due("L-B", "100", DAY))
    book = note_granted(book, "L-A", sms("L-A:e:3", at), names_for(book, DAY))
    first = cover(book, "L-B", [sms("L-B:e:3", at)], set())
    book = book.model_copy(update={"covered": first, "messages": {}})
    assert cover(book, "L-B", [sms("L-B:e:3", at)], set()) == first


# ----------------------------------------------------------------------- pre-due reminders


def falling_due(loan: str, amount: str, due_on: date) -> LoanDue:
    """A loan with nothing overdue and one instalment falling due on `due_on`."""
    return LoanDue(
        loan_id=loan,
        currency="CNY",
        as_of=DAY,
        amount_overdue=Decimal(0),
        balance=Decimal(amount),
        unpaid=[DueLine(due_date=due_on, unpaid=Decimal(amount))],
    )


def pre_due_sms(grant_id: str, at: datetime, due_on: date) -> CandidateShape:
    return sms(grant_id, at).model_copy(update={"stage": "pre_due", "due_until": due_on})


def test_a_pre_due_message_names_every_loan_falling_due_by_its_due_date_not_the_overdue() -> None:
    """The day before the due date the pre-due text names each loan falling due (its amount and
    due date), the earliest first; a loan overdue belongs to the overdue message, and a loan
    falling due after the asking loan gets its own reminder."""
    tomorrow = DAY + timedelta(days=1)
    book = book_of(
        falling_due("L-B", "800.50", tomorrow),
        falling_due("L-A", "1200.00", tomorrow),
        falling_due("L-C", "300.00", DAY),
        falling_due("L-LATER", "50.00", DAY + timedelta(days=5)),
        due("L-OVERDUE", "100.00", DAY - timedelta(days=3)),
    )
    named = names_due_for(book, DAY, tomorrow)
    assert [(n.loan_id, n.amount_due, n.due_on) for n in named] == [
        ("L-C", Decimal("300.00"), DAY),
        ("L-A", Decimal("1200.00"), tomorrow),
        ("L-B", Decimal("800.50"), tomorrow),
    ]
    assert all(n.amount_overdue == 0 for n in named), "money not yet owed is not overdue"
    assert names_for(book, DAY)[0].loan_id == "L-OVERDUE"


def test_pre_due_and_overdue_messages_are_separate_kinds_per_channel_and_day() -> None:
    """A pre-due text covers the pre-due texts of the loans it named, never an overdue text
    (and an overdue text never covers a pre-due one): they say different things."""
    at = shanghai(2026, 12, 9, 9)
    tomorrow = DAY + timedelta(days=1)
    assert message_key("sms", DAY, "x", "pre_due") != message_key("sms", DAY, "x")
    book = book_of(
        falling_due("L-A", "100", tomorrow),
        falling_due("L-B", "100", tomorrow),
        due("L-C", "100", DAY - timedelta(days=1)),
        due("L-D", "100", DAY - timedelta(days=1)),
    )
    first = pre_due_sms("L-A:e:3", at, tomorrow)
    book = note_granted(book, "L-A", first, names_due_for(book, DAY, tomorrow))
    covered = cover(book, "L-B", [pre_due_sms("L-B:e:3", at, tomorrow)], set())
    assert covered["L-B:e:3"].by_grant == "L-A:e:3"
    assert cover(book, "L-C", [sms("L-C:e:3", at)], set()) == {}, "the overdue text goes"
    book = note_granted(book, "L-C", sms("L-C:e:3", at), names_for(book, DAY))
    assert cover(book, "L-D", [sms("L-D:e:3", at)], set())["L-D:e:3"].by_loan == "L-C"
    assert cover(book, "L-B", [sms("L-B:e:9", at)], set()) == {}


def test_the_authority_names_the_loans_falling_due_on_the_first_pre_due_text() -> None:
    """Loan A's pre-due text is granted naming A and B; B's the same day is covered by it."""
    at = shanghai(2026, 12, 9, 9)
    tomorrow = DAY + timedelta(days=1)
    book = book_of(falling_due("L-B", "800.00", tomorrow))
    first = request(
        "L-A", at, falling_due("L-A", "1200.00", tomorrow), pre_due_sms("L-A:e:1", at, tomorrow)
    )
    book, covered, _ = before_grants(book, BorrowerBook(), first)
    book, _, names = after_grants(
        book, first, covered, [GrantAnswer(grant_id="L-A:e:1", granted=True)]
    )
    assert [(n.loan_id, n.amount_due) for n in names["L-A:e:1"]] == [
        ("L-A", Decimal("1200.00")),
        ("L-B", Decimal("800.00")),
    ]
    second = request(
        "L-B", at, falling_due("L-B", "800.00", tomorrow), pre_due_sms("L-B:e:1", at, tomorrow)
    )
    book, covered, rest = before_grants(book, BorrowerBook(), second)
    assert rest.candidates == [] and covered["L-B:e:1"].by_loan == "L-A"


def test_a_loan_that_has_not_reported_is_named_from_its_schedule_until_it_reports() -> None:
    """A loan joins its borrower with its schedule: the first pre-due text of the day names it
    though it has not asked for anything yet (its first report, newer, replaces it), and on a
    day after its due date it counts as overdue by the instalment's principal."""
    tomorrow = DAY + timedelta(days=1)
    schedule = scheduled_dues("L-B", "CNY", [DueLine(due_date=tomorrow, unpaid=Decimal("800"))])
    joined = LoanRegistration(
        loan_id="L-B", facts=BorrowerFacts(name="W", timezone="Asia/Shanghai"), dues=schedule
    )
    book = registered(book_of(falling_due("L-A", "1200.00", tomorrow)), joined)
    assert [n.loan_id for n in names_due_for(book, DAY, tomorrow)] == ["L-A", "L-B"]
    [late] = [n for n in names_for(book, tomorrow + timedelta(days=2)) if n.loan_id == "L-B"]
    assert late.amount_overdue == Decimal("800") and late.oldest_due == tomorrow
    reported = falling_due("L-B", "700.00", tomorrow)
    book = book.model_copy(update={"dues": {**book.dues, "L-B": reported}})
    assert registered(book, joined).dues["L-B"] == reported, "a report is newer than the schedule"
    assert registered(ConsolidationBook(), joined.model_copy(update={"dues": None})).dues == {}


def test_a_single_loan_falling_due_names_no_list() -> None:
    at = shanghai(2026, 12, 9, 9)
    tomorrow = DAY + timedelta(days=1)
    only = request(
        "L-A", at, falling_due("L-A", "1200.00", tomorrow), pre_due_sms("L-A:e:1", at, tomorrow)
    )
    book, covered, _ = before_grants(ConsolidationBook(), BorrowerBook(), only)
    _, _, names = after_grants(book, only, covered, [GrantAnswer(grant_id="L-A:e:1", granted=True)])
    assert names == {}


# ----------------------------------------------------------------------- the authority


def request(loan: str, at: datetime, dues: LoanDue, *shapes: CandidateShape) -> GrantRequest:
    candidates = [
        GrantCandidate(
            grant_id=s.grant_id,
            record=ContactRecord.model_validate(
                {"at": s.at, "channel": s.channel, "result": "sent", "target": "+8613800000000"}
            ),
        )
        for s in shapes
    ]

    def ref(kind: str, name: str) -> PolicyRef:
        return PolicyRef.model_validate(
            {"kind": kind, "name": name, "version": 1, "sha256": "0" * 64}
        )

    return GrantRequest(
        loan_id=loan,
        facts=BorrowerFacts(name="W", timezone="Asia/Shanghai"),
        policy=EpisodePolicy(
            strategy=ref("strategy", "default"), profile=ref("profile", "cn"), calendars=[]
        ),
        context=CN_CTX,
        ledger=ContactLedger(),
        candidates=candidates,
        dues=dues,
        shapes=list(shapes),
    )


def test_the_authority_answers_a_covered_reminder_and_names_the_loans_of_a_granted_one() -> None:
    """Loan A's text is granted and names A and B; B's text that day is covered by it (granted,
    so the loan does not refuse it, and listed as covered), not sent to the caps."""
    at = shanghai(2026, 12, 9, 9)
    book = ConsolidationBook()
    borrower = BorrowerBook()
    first = request("L-A", at, due("L-A", "1200.00", DAY), sms("L-A:e:3", at))
    book, covered, rest = before_grants(book, borrower, first)
    assert covered == {} and rest.candidates == first.candidates
    book = book.model_copy(update={"dues": {**book.dues, "L-B": due("L-B", "800.00", DAY)}})
    book, answers, names = after_grants(
        book, first, covered, [GrantAnswer(grant_id="L-A:e:3", granted=True)]
    )
    assert [a.granted for a in answers] == [True]
    assert [n.loan_id for n in names["L-A:e:3"]] == ["L-A", "L-B"]

    second = request("L-B", at, due("L-B", "800.00", DAY), sms("L-B:e:7", at))
    book, covered, rest = before_grants(book, borrower, second)
    assert rest.candidates == [] and covered["L-B:e:7"].by_loan == "L-A"
    book, answers, names = after_grants(book, second, covered, [])
    assert answers == [GrantAnswer(grant_id="L-B:e:7", granted=True, reason="covered")]
    assert names == {}


def test_a_single_overdue_loan_names_no_list() -> None:
    at = shanghai(2026, 12, 9, 9)
    only = request("L-A", at, due("L-A", "1200.00", DAY), sms("L-A:e:3", at))
    book, covered, _ = before_grants(ConsolidationBook(), BorrowerBook(), only)
    _, _, names = after_grants(book, only, covered, [GrantAnswer(grant_id="L-A:e:3", granted=True)])
    assert names == {}


def test_a_shared_outcome_goes_to_every_other_loan_it_names_once() -> None:
    from domain.contact.consolidation import SharedOutcome

    at = shanghai(2026, 12, 9, 10)
    shared = SharedOutcome(
        key="L-A:e:9",
        task_id="task-1",
        from_loan="L-A",
        outcome="no_answer",
        at=at,
        loans=["L-A", "L-B", "L-C"],
    )
    asked = request("L-A", at, due("L-A", "1", DAY)).model_copy(
        update={"shared_outcomes": [shared]}
    )
    book, out = outcome_signals(ConsolidationBook(), "B-1", asked)
    assert [loan for loan, _ in out] == ["L-B", "L-C"]
    _, again = outcome_signals(book, "B-1", asked)
    assert again == [], "a retried request passes nothing on twice"


# ----------------------------------------------------------------------- promises


def loans_named() -> list[NamedLoan]:
    return [
        NamedLoan(
            loan_id="L-NEW",
            currency="CNY",
            amount_overdue=Decimal("1200.00"),
            oldest_due=DAY,
            balance=Decimal("2400.00"),
        ),
        NamedLoan(
            loan_id="L-OLD",
            currency="CNY",
            amount_overdue=Decimal("800.00"),
            oldest_due=DAY - timedelta(days=1),
            balance=Decimal("1600.00"),
        ),
    ]


@pytest.mark.parametrize(
    ("amount", "old", "new"),
    [
        ("1500.55", "800.00", "700.55"),
        ("500.01", "500.01", "0.00"),
        ("2000.00", "800.00", "1200.00"),
        # Beyond what is overdue: the oldest loan first, up to its balance.
        ("2300.00", "1100.00", "1200.00"),
    ],
)
def test_oldest_due_first_fills_the_oldest_loans_overdue_first(
    amount: str, old: str, new: str
) -> None:
    shares = allocate_promise(Decimal(amount), loans_named(), "oldest_due_first", "CNY")
    assert shares == {"L-OLD": Decimal(old), "L-NEW": Decimal(new)}
    assert sum(shares.values()) == Decimal(amount)


def test_pro_rata_splits_by_what_is_overdue_to_the_cent() -> None:
    shares = allocate_promise(Decimal("1000.01"), loans_named(), "pro_rata", "CNY")
    # 1000.01 x 1200/2000 = 600.006, x 800/2000 = 400.004: the spare cent to the larger rest.
    assert shares == {"L-NEW": Decimal("600.01"), "L-OLD": Decimal("400.00")}
    assert sum(shares.values()) == Decimal("1000.01")


def test_a_promise_above_what_the_loans_owe_is_not_allocated_in_full() -> None:
    shares = allocate_promise(Decimal("4000.01"), loans_named(), "oldest_due_first", "CNY")
    assert sum(shares.values()) == Decimal("4000.00")


def test_yen_have_no_cents() -> None:
    loans = [n.model_copy(update={"currency": "JPY"}) for n in loans_named()]
    loans = [
        n.model_copy(update={"amount_overdue": Decimal(v)})
        for n, v in zip(loans, ("2", "1"), strict=True)
    ]
    shares = allocate_promise(Decimal("10"), loans, "pro_rata", "JPY")
    assert sum(shares.values()) == Decimal("10")
    assert all(v == v.to_integral_value() for v in shares.values())
