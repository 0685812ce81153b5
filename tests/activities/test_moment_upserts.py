"""A moment's rows are keyed by the workflow's own identifiers — actions and transitions by
(episode, seq), payments by (loan_id, payment_id) — and written with INSERT ... ON CONFLICT DO
NOTHING: a retried activity adds nothing twice, and a later moment never rewrites an earlier
row. Runs on SQLite and, with DATABASE_URL, on PostgreSQL (`database` marker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from activities.moment import MomentActivities
from store.models import ActionRow, PaymentRow, TaskRow, TransitionRow
from tests.workflows.helpers import store_rows
from workflows.contracts import (
    AccountStatus,
    ActionCommand,
    MomentRecord,
    PaymentRecord,
    StrategyRef,
    TransitionRecord,
)

AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
EPISODE = "7a6b5c4d-episode"


def _status(loan: str) -> AccountStatus:
    return AccountStatus(
        loan_id=loan,
        state="delinquent",
        dpd=3,
        bucket="M1",
        stage="front_end",
        amount_overdue=Decimal("800.00"),
        penalty_accrued=Decimal("2.40"),
        strategy=StrategyRef(name="default", version=1),
    )


def _call(seq: int, to: str) -> ActionCommand:
    return ActionCommand(
        seq=seq,
        at=AT,
        kind="call_task",
        channel="call",
        stage="front_end",
        step_id="fe_call_1",
        detail={"dpd": 3, "amount_overdue": "800.00", "to": to},
        task_window=(AT, AT + timedelta(hours=2)),
        priority=Decimal("800.00"),
    )


def _transition(seq: int, reason: str) -> TransitionRecord:
    return TransitionRecord(
        seq=seq,
        at=AT,
        from_state="current",
        to_state="delinquent",
        from_bucket="current",
        to_bucket="M1",
        dpd=1,
        reason=reason,
    )


def _payment(payment_id: str, amount: str) -> PaymentRecord:
    return PaymentRecord(
        payment_id=payment_id, amount=Decimal(amount), paid_at=AT, dpd=3, bucket="M1"
    )


def _moment(loan: str, **rows: object) -> MomentRecord:
    return MomentRecord(
        loan_id=loan,
        workflow_id=f"account-{loan}",
        episode=EPISODE,
        at=AT,
        status=_status(loan),
        segment="standard",
        **rows,
    )


def test_a_retried_moment_adds_no_action_task_transition_or_payment_twice(
    database_url: str,
) -> None:
    loan = "L-UPSERT-RETRY"
    moment = _moment(
        loan,
        actions=[_call(1, "+8613800138000"), _call(2, "+8613800138001")],
        transitions=[_transition(1, "missed due date")],
        payments=[_payment("P-1", "100.00"), _payment("P-2", "50.00")],
    )
    activities = MomentActivities(database_url)

    first = activities.apply_moment(moment)
    again = activities.apply_moment(moment)  # the worker died after the commit

    assert (first["actions"], first["transitions"], first["payments"]) == (2, 1, 2)
    assert (again["actions"], again["transitions"], again["payments"]) == (0, 0, 0)
    assert sorted(r["seq"] for r in store_rows(database_url, ActionRow, loan)) == [1, 2]
    assert len(store_rows(database_url, TaskRow, loan)) == 2
    assert len(store_rows(database_url, TransitionRow, loan)) == 1
    amounts = sorted(r["amount"] for r in store_rows(database_url, PaymentRow, loan))
    assert amounts == [Decimal("50.00"), Decimal("100.00")]


def test_a_later_moment_adds_only_its_new_keys_and_keeps_what_was_recorded(
    database_url: str,
) -> None:
    loan = "L-UPSERT-KEEP"
    activities = MomentActivities(database_url)
    activities.apply_moment(
        _moment(
            loan,
            actions=[_call(1, "+8613800138000")],
            transitions=[_transition(1, "missed due date")],
            payments=[_payment("P-1", "100.00")],
        )
    )

    # Same keys with other contents, beside new keys: only the new keys are written.
    written = activities.apply_moment(
        _moment(
            loan,
            actions=[_call(1, "+8613900000000"), _call(2, "+8613800138001")],
            transitions=[_transition(1, "rewritten"), _transition(2, "rolled")],
            payments=[_payment("P-1", "999.00"), _payment("P-2", "50.00")],
        )
    )

    assert (written["actions"], written["transitions"], written["payments"]) == (1, 1, 1)
    actions = {r["seq"]: r for r in store_rows(database_url, ActionRow, loan)}
    assert actions[1]["detail"]["to"] == "+8613800138000"
    transitions = {r["seq"]: r["reason"] for r in store_rows(database_url, TransitionRow, loan)}
    assert transitions == {1: "missed due date", 2: "rolled"}
    payments = {r["payment_id"]: r["amount"] for r in store_rows(database_url, PaymentRow, loan)}
    assert payments == {"P-1": Decimal("100.00"), "P-2": Decimal("50.00")}


def test_a_payment_id_is_unique_per_loan_not_across_loans(database_url: str) -> None:
    activities = MomentActivities(database_url)
    for loan in ("L-UPSERT-A", "L-UPSERT-B"):
        written = activities.apply_moment(_moment(loan, payments=[_payment("P-1", "10.00")]))
        assert written["payments"] == 1
    assert len(store_rows(database_url, PaymentRow, "L-UPSERT-B")) == 1
