"""Dispute and complaint cases and their evidence (issue 17 item 7), as the workflow decided
them: `apply_moment` writes them from the moment's case actions in the moment's own
transaction (activities/moment.py), so a case, its evidence and its resolution are never out of
step with the actions an auditor reads. The API reads them (api/services/cases.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from domain.limits import LOAN_ID_LENGTH
from domain.vocabulary import ActionKind
from store.models import MONEY, ActionRow

OPEN = "open"
CASE_STATUSES: tuple[str, ...] = (OPEN, "upheld", "rejected")


def _instant(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class CaseRow(SQLModel, table=True):
    """One dispute or complaint: opened with its hold, answered by its deadline."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_deadline", "status", "deadline"),)

    case_id: str = Field(primary_key=True, max_length=120)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    episode: str = Field(max_length=64)
    kind: str = Field(max_length=20, index=True)
    reason: str = Field(max_length=500)
    notes: str | None = Field(default=None, max_length=2000)
    opened_by: str | None = Field(default=None, max_length=80)
    opened_at: datetime | None = _instant(nullable=False)
    deadline: datetime | None = _instant(nullable=False)
    owner_queue: str = Field(default="supervisor", max_length=40)
    timezone: str | None = Field(default=None, max_length=64, description="the borrower's zone")
    status: str = Field(default=OPEN, max_length=20)
    escalated_at: datetime | None = _instant()
    resolved_at: datetime | None = _instant()
    resolved_by: str | None = Field(default=None, max_length=80)
    resolution_notes: str | None = Field(default=None, max_length=2000)
    adjustment: Decimal | None = Field(default=None, sa_column=Column(MONEY, nullable=True))
    balance_after: Decimal | None = Field(default=None, sa_column=Column(MONEY, nullable=True))
    currency: str | None = Field(default=None, max_length=3)


class CaseEvidenceRow(SQLModel, table=True):
    """One piece of evidence for a case, in the order it was added; (episode, seq) is the
    action that recorded it, so a retried moment adds it once."""

    __tablename__ = "case_evidence"
    __table_args__ = (UniqueConstraint("episode", "seq", name="uq_case_evidence_episode_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=120, index=True)
    episode: str = Field(max_length=64)
    seq: int
    at: datetime | None = _instant(nullable=False)
    added_by: str | None = Field(default=None, max_length=80)
    text: str = Field(max_length=4000)
    document: str | None = Field(default=None, max_length=500)


CASE_ACTIONS = frozenset(
    {
        ActionKind.CASE_OPENED,
        ActionKind.CASE_EVIDENCE,
        ActionKind.CASE_OVERDUE,
        ActionKind.CASE_RESOLVED,
    }
)


def record_case_action(
    session: Session,
    action: ActionRow,
    timezone: str | None,
) -> None:
    """Apply one newly inserted case action (its stored detail, workflows.contracts.CaseDetail)
    to the case tables, inside the moment's transaction."""
    if action.kind not in CASE_ACTIONS:
        return
    detail: dict[str, Any] = action.detail or {}
    case_id = detail.get("case_id")
    if not case_id or action.at is None:
        return
    if action.kind == ActionKind.CASE_OPENED:
        if session.get(CaseRow, case_id) is None:
            deadline = detail.get("deadline")
            session.add(
                CaseRow(
                    case_id=case_id,
                    loan_id=action.loan_id,
                    episode=action.episode,
                    kind=detail.get("case_kind") or "dispute",
                    reason=str(detail.get("reason") or "")[:500],
                    notes=detail.get("notes"),
                    opened_by=detail.get("by"),
                    opened_at=action.at,
                    deadline=datetime.fromisoformat(deadline) if deadline else action.at,
                    owner_queue=detail.get("owner_queue") or "supervisor",
                    timezone=timezone,
                )
            )
        return
    case = session.get(CaseRow, case_id)
    if case is None:
        return  # opened in a moment the store could not hold
    if action.kind == ActionKind.CASE_EVIDENCE:
        session.add(
            CaseEvidenceRow(
                case_id=case_id,
                episode=action.episode,
                seq=action.seq,
                at=action.at,
                added_by=detail.get("by"),
                text=detail.get("text") or "",
                document=detail.get("document"),
            )
        )
    elif action.kind == ActionKind.CASE_OVERDUE:
        case.escalated_at = case.escalated_at or action.at
        session.add(case)
    elif action.kind == ActionKind.CASE_RESOLVED:
        case.status = detail.get("resolution") or case.status
        case.resolved_at = action.at
        case.resolved_by = detail.get("by")
        case.resolution_notes = detail.get("notes")
        adjustment, balance = detail.get("adjustment"), detail.get("balance_after")
        case.adjustment = Decimal(adjustment) if adjustment else None
        case.balance_after = Decimal(balance) if balance else None
        case.currency = detail.get("currency")
        session.add(case)


def get_case(session: Session, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def evidence_of(session: Session, case_id: str) -> Sequence[CaseEvidenceRow]:
    return session.exec(
        select(CaseEvidenceRow)
        .where(CaseEvidenceRow.case_id == case_id)
        .order_by(col(CaseEvidenceRow.at), col(CaseEvidenceRow.id))
    ).all()


def list_cases(
    session: Session,
    status: str | None,
    kind: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
    loan_id: str | None = None,
) -> Sequence[CaseRow]:
    """Cases by deadline (soonest first), then id: the order a supervisor works them in.
    `after`: the (deadline, case_id) of the last case of the previous page."""
    query = select(CaseRow)
    if status is not None:
        query = query.where(CaseRow.status == status)
    if kind is not None:
        query = query.where(CaseRow.kind == kind)
    if loan_id is not None:
        query = query.where(CaseRow.loan_id == loan_id)
    if after is not None:
        deadline, case_id = after
        query = query.where(
            (col(CaseRow.deadline) > deadline)
            | ((col(CaseRow.deadline) == deadline) & (col(CaseRow.case_id) > case_id))
        )
    return session.exec(
        query.order_by(col(CaseRow.deadline), col(CaseRow.case_id)).limit(limit)
    ).all()
