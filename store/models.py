"""SQLModel tables of the read model.

Workflows never import this module (the Temporal sandbox would re-import the tables); activities
and the API do. Business instants are the workflow's clock, passed in by activities, never the
database server's clock.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.limits import (
    AGENCY_ID_LENGTH,
    LOAN_ID_LENGTH,
    MONEY_DIGITS,
    MONEY_PLACES,
    PAY_TO_LENGTH,
    PAYMENT_ID_LENGTH,
    PLACEMENT_ID_LENGTH,
    SEGMENT_LENGTH,
)

MONEY = Numeric(MONEY_DIGITS, MONEY_PLACES)


def _money(default: Decimal | None = Decimal("0")) -> Any:
    return Field(default=default, sa_column=Column(MONEY, nullable=default is None))


def _instant(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AccountRow(SQLModel, table=True):
    """The latest snapshot of an account, written by the workflow at every transition."""

    __tablename__ = "accounts"

    loan_id: str = Field(primary_key=True, max_length=LOAN_ID_LENGTH)
    workflow_id: str = Field(max_length=100)
    episode: str = Field(max_length=64, description="first run id of the current episode")
    state: str = Field(max_length=20, index=True)
    dpd: int = 0
    bucket: str = Field(max_length=10, index=True)
    stage: str = Field(max_length=20, index=True)
    segment: str = Field(max_length=SEGMENT_LENGTH)
    strategy: str = Field(max_length=80)
    currency: str = Field(max_length=3)
    amount_overdue: Decimal = _money()
    penalty_accrued: Decimal = _money()
    paid_total: Decimal = _money()
    assignee: str | None = Field(default=None, max_length=80)
    timezone: str | None = Field(default=None, max_length=64, description="the borrower's zone")
    status: dict[str, Any] = _json()
    opened_at: datetime | None = _instant()
    updated_at: datetime | None = _instant()
    closed_at: datetime | None = _instant()


class ActionRow(SQLModel, table=True):
    """Everything done to an account, in order; (episode, seq) makes a retried write a no-op."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("episode", "seq", name="uq_actions_episode_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    episode: str = Field(max_length=64)
    seq: int
    at: datetime | None = _instant(nullable=False)
    kind: str = Field(max_length=40)
    channel: str = Field(max_length=20)
    stage: str = Field(max_length=20)
    status: str = Field(max_length=20)
    detail: dict[str, Any] = _json()


class TransitionRow(SQLModel, table=True):
    """A change of state or bucket: the raw material of roll and cure rates."""

    __tablename__ = "transitions"
    __table_args__ = (UniqueConstraint("episode", "seq", name="uq_transitions_episode_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    episode: str = Field(max_length=64)
    seq: int
    at: datetime | None = _instant(nullable=False)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    from_bucket: str | None = Field(default=None, max_length=10)
    to_bucket: str = Field(max_length=10)
    dpd: int = 0
    reason: str = Field(default="", max_length=200)


class TaskRow(SQLModel, table=True):
    """Work for a person (call, field visit, skip trace, verification, approval).

    `status` is open until a person records an outcome (done) or the workflow closes it (expired,
    cancelled). `claimed_at`/`outcome_by`/`outcome_at` say who took it and who reported what, so
    the queue is auditable without reading workflow history (store/tasks.py owns the writes).
    """

    __tablename__ = "tasks"
    # The work queue's hot path: open tasks whose window has opened (store.tasks.open_tasks).
    __table_args__ = (Index("ix_tasks_queue", "status", "not_before"),)

    task_id: str = Field(primary_key=True, max_length=120)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    episode: str = Field(max_length=64)
    action_seq: int
    kind: str = Field(max_length=20, index=True)
    status: str = Field(default="open", max_length=20, index=True)
    assignee: str | None = Field(default=None, max_length=80, index=True)
    priority: Decimal = _money()
    not_before: datetime | None = _instant()
    not_after: datetime | None = _instant()
    detail: dict[str, Any] = _json()
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime | None = _instant()
    closed_at: datetime | None = _instant()
    claimed_at: datetime | None = _instant()
    outcome_by: str | None = Field(default=None, max_length=80)
    outcome_at: datetime | None = _instant()


class PaymentRow(SQLModel, table=True):
    """A payment the workflow accepted (duplicates by payment_id never reach this table twice)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("loan_id", "payment_id", name="uq_payments_loan_payment"),)

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    payment_id: str = Field(max_length=PAYMENT_ID_LENGTH)
    amount: Decimal = _money()
    paid_at: datetime | None = _instant(nullable=False)
    dpd: int = 0
    bucket: str = Field(default="current", max_length=10)
    # Attribution (PLAYBOOK.md: agencies work on commission): set while the loan is placed.
    agency_id: str | None = Field(default=None, max_length=AGENCY_ID_LENGTH)
    placement_id: str | None = Field(default=None, max_length=PLACEMENT_ID_LENGTH, index=True)
    commission: Decimal | None = Field(default=None, sa_column=Column(MONEY, nullable=True))
    booked_as: str = Field(
        default="collection",
        max_length=20,
        sa_column_kwargs={"server_default": "collection"},
        description="`collection`, or `recovery` for money received after write-off",
    )


class PromiseRow(SQLModel, table=True):
    """A promise to pay and how it ended."""

    __tablename__ = "promises"

    promise_id: str = Field(primary_key=True, max_length=120)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    amount: Decimal = _money()
    promised_date: date
    pay_to: str | None = Field(default=None, max_length=PAY_TO_LENGTH)
    status: str = Field(default="open", max_length=20)
    made_at: datetime | None = _instant()
    resolved_at: datetime | None = _instant()


class ArmAssignmentRow(SQLModel, table=True):
    """Which arm of a champion/challenger experiment a loan was started in (written once, at the
    start of its first episode in the experiment; store/reports.py owns the writes)."""

    __tablename__ = "arm_assignments"
    __table_args__ = (
        UniqueConstraint("loan_id", "experiment", name="uq_arm_assignments_loan_experiment"),
    )

    id: int | None = Field(default=None, primary_key=True)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    experiment: str = Field(max_length=200, description="champion ref:challenger ref")
    arm: str = Field(max_length=20, description="champion or challenger")
    strategy_ref: str = Field(max_length=80, description="the strategy the loan started under")
    assigned_at: datetime | None = _instant(nullable=False)


class PolicyVersionRow(SQLModel, table=True):
    """Every policy document (strategy, contact profile, calendar year) a worker has served, with
    the content hash it had then: a file later changed without a new version is caught here, at
    worker start, instead of silently changing what running episodes decide."""

    __tablename__ = "policy_versions"

    kind: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    sha256: str = Field(max_length=64)
    source: str = Field(default="", max_length=400)
