"""What the loan system hears of a moment (activities/events.py): each business fact once, in
the order the moment made it, under a key that makes a retried moment add nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from activities.events import facts_of
from domain.vocabulary import AccountState, ActionKind, EventType
from workflows.contracts import (
    AccountStatus,
    ActionCommand,
    MomentRecord,
    PaymentConflictDetail,
    PaymentRecord,
    PromiseView,
    RestructureAcceptedDetail,
    TransitionRecord,
)

AT = datetime(2026, 3, 21, 4, 0, tzinfo=UTC)


def _moment(**parts: object) -> MomentRecord:
    status = AccountStatus.model_validate(
        {
            "loan_id": "L-EV",
            "state": "delinquent",
            "dpd": 11,
            "bucket": "M1",
            "stage": "front_end",
            "amount_overdue": "1200.00",
            "penalty_accrued": "6.60",
            "promise": None,
            "broken_promises": 0,
            "holds": [],
            "next_action": None,
            "strategy": {"name": "default", "version": 1},
            "currency": "CNY",
        }
    )
    return MomentRecord(
        loan_id="L-EV",
        workflow_id="account-L-EV",
        episode="ep1",
        at=AT,
        status=status,
        segment="standard",
        **parts,
    )


def _transition(
    seq: int, to_state: str, from_state: str, to_bucket: str, from_bucket: str
) -> TransitionRecord:
    return TransitionRecord(
        seq=seq,
        at=AT,
        from_state=from_state,
        to_state=to_state,
        from_bucket=from_bucket,
        to_bucket=to_bucket,
        dpd=1,
        reason="test",
    )


def test_the_first_moment_of_an_episode_opens_the_account_before_anything_else() -> None:
    facts = facts_of(
        _moment(transitions=[_transition(1, "delinquent", "pre_due", "M1", "current")]), True
    )
    assert [f.type for f in facts] == [
        EventType.ACCOUNT_OPENED,
        EventType.ACCOUNT_DELINQUENT,
        EventType.BUCKET_CHANGED,
    ]
    assert facts[0].data["currency"] == "CNY"
    assert facts[2].data == {
        "episode": "ep1",
        "from_bucket": "current",
        "to_bucket": "M1",
        "dpd": 1,
    }


def test_the_payment_that_cures_reads_before_the_cure_and_the_close_with_money_as_a_string() -> (
    None
):
    payment = PaymentRecord(
        payment_id="PAY-1", amount=Decimal("1206.60"), paid_at=AT, dpd=11, bucket="M1"
    )
    facts = facts_of(
        _moment(
            payments=[payment],
            transitions=[_transition(2, AccountState.CURED, "delinquent", "current", "M1")],
        ),
        False,
    )
    types = [f.type for f in facts]
    assert types == [
        EventType.PAYMENT_APPLIED,
        EventType.BUCKET_CHANGED,
        EventType.ACCOUNT_CURED,
        EventType.ACCOUNT_CLOSED,
    ]
    applied = facts[0]
    assert applied.data["amount"] == "1206.60" and applied.data["currency"] == "CNY"
    assert applied.key == "L-EV:payment:PAY-1"


def test_a_promise_resolved_in_the_moment_it_is_first_seen_is_made_then_kept() -> None:
    promise = PromiseView(
        promise_id="P1",
        amount=Decimal("600.00"),
        promised_date=date(2026, 3, 25),
        status="kept",
        made_at=AT,
        deadline=date(2026, 3, 26),
    )
    facts = facts_of(_moment(promises=[promise]), False)
    assert [f.type for f in facts] == [EventType.PROMISE_MADE, EventType.PROMISE_KEPT]
    assert len({f.key for f in facts}) == 2


def test_the_same_moment_twice_yields_the_same_keys() -> None:
    moment = _moment(transitions=[_transition(1, "delinquent", "pre_due", "M1", "current")])
    assert [f.key for f in facts_of(moment, True)] == [f.key for f in facts_of(moment, True)]


def test_a_signalled_payment_conflict_is_an_event_naming_both_amounts() -> None:
    """A signal cannot be refused: the loan system learns of the conflict from its event."""
    conflict = ActionCommand(
        seq=4,
        at=AT,
        kind=ActionKind.PAYMENT_CONFLICT,
        channel="internal",
        stage="front_end",
        detail=PaymentConflictDetail(
            action=ActionKind.PAYMENT_CONFLICT,
            payment_id="PAY-1",
            amount_on_record="100.00",
            amount="50.00",
        ),
    )
    [fact] = facts_of(_moment(actions=[conflict]), False)
    assert fact.type == EventType.PAYMENT_CONFLICT
    assert fact.data == {
        "episode": "ep1",
        "payment_id": "PAY-1",
        "amount_on_record": "100.00",
        "amount": "50.00",
    }


def _plan_accepted(waived: str) -> ActionCommand:
    return ActionCommand(
        seq=9,
        at=AT,
        kind=ActionKind.RESTRUCTURE_ACCEPTED,
        channel="internal",
        stage="front_end",
        detail=RestructureAcceptedDetail(
            action=ActionKind.RESTRUCTURE_ACCEPTED,
            child="restructure-L-EV-1",
            total=Decimal("1206.60"),
            paid_since_offer=Decimal("0"),
            waived=Decimal(waived),
            rescheduled_penalty=Decimal("0"),
            replaced=[7],
            instalments=[
                {"seq": 101, "due_date": "2026-04-20", "amount": "603.30"},
                {"seq": 102, "due_date": "2026-05-20", "amount": "603.30"},
            ],
            balance=Decimal("1206.60"),
            currency="CNY",
        ),
    )


def test_a_restructure_whose_plan_forgives_penalty_is_a_penalty_waived_event_to_the_cent() -> None:
    """The accepted plan's waiver is booked by the loan system from its own event, and the
    restructure.accepted event carries the new schedule it re-books the loan from."""
    moment = _moment(
        transitions=[_transition(3, "restructured", "delinquent", "M1", "M1")],
        actions=[_plan_accepted("6.61")],
    )
    facts = facts_of(moment, False)
    assert [f.type for f in facts] == [EventType.RESTRUCTURE_ACCEPTED, EventType.PENALTY_WAIVED]
    accepted, waived = facts
    assert waived.data == {
        "episode": "ep1",
        "amount": "6.61",
        "currency": "CNY",
        "reason": "restructure plan accepted",
        "child": "restructure-L-EV-1",
    }
    assert waived.key == "L-EV:ep1:action:9:waived"
    assert accepted.data["instalments"] == [
        {"seq": 101, "due_date": "2026-04-20", "amount": "603.30"},
        {"seq": 102, "due_date": "2026-05-20", "amount": "603.30"},
    ]
    assert accepted.data["total"] == "1206.60" and accepted.data["waived"] == "6.61"
    assert [f.key for f in facts_of(moment, False)] == [f.key for f in facts]


def test_a_plan_that_forgives_nothing_records_no_waiver() -> None:
    moment = _moment(actions=[_plan_accepted("0.00")])
    assert facts_of(moment, False) == []
