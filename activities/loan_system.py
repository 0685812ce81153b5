"""Tell the loan system what collections decided: today, an approved write-off.

The posting goes into the `loan_system_outbox` table, keyed by the WriteOffWorkflow's id, and
a delivery process forwards it; so this activity needs only our own database, and a retry (a
worker that died after the commit, a lost completion) finds the row it wrote and returns the
same reference instead of posting the loan twice.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.money import check_precision
from domain.vocabulary import EventType
from store.engine import session_scope
from store.events import EventFact, record_events
from store.loan_system import WRITE_OFF, LoanSystemOutboxRow, reference_of
from workflows.write_off_messages import WriteOffPosting

INVALID_POSTING = "InvalidPosting"


class LoanSystemActivities:
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    @activity.defn(name="post_write_off")
    def post_write_off(self, request: WriteOffPosting) -> str:
        """Record the write-off once and return its outbox reference (the same on every retry)."""
        self._check(request)
        with session_scope(self._url) as session:
            existing = self._find(session, request.workflow_id)
            if existing is not None:
                return reference_of(existing)
        try:
            with session_scope(self._url) as session:
                row = LoanSystemOutboxRow(
                    loan_id=request.loan_id,
                    kind=WRITE_OFF,
                    idempotency_key=request.workflow_id,
                    payload={
                        "amount": str(request.amount),
                        "currency": request.currency,
                        "reason": request.reason,
                        "approved_by": request.approved_by,
                        "verified_by": request.verified_by,
                        "episode": request.episode,
                        "at": request.at.isoformat(),
                    },
                    created_at=request.at,
                    delivered_at=None,
                )
                session.add(row)
                session.flush()
                # The loan system hears it as an event too, in the same transaction.
                record_events(
                    session,
                    [
                        EventFact(
                            key=f"{request.loan_id}:write_off:{request.workflow_id}",
                            at=request.at,
                            loan_id=request.loan_id,
                            type=EventType.WRITE_OFF_APPROVED,
                            data={"reference": reference_of(row), **row.payload},
                        )
                    ],
                )
                return reference_of(row)
        except IntegrityError:
            # Another attempt of this activity committed the same key first: use its row.
            with session_scope(self._url) as session:
                raced = self._find(session, request.workflow_id)
                if raced is None:
                    raise
                return reference_of(raced)

    @staticmethod
    def _find(session: Session, key: str) -> LoanSystemOutboxRow | None:
        return session.exec(
            select(LoanSystemOutboxRow).where(LoanSystemOutboxRow.idempotency_key == key)
        ).first()

    @staticmethod
    def _check(request: WriteOffPosting) -> None:
        """A posting the loan system would refuse is a bug upstream, not a reason to retry."""
        try:
            check_precision(request.amount, request.currency)
        except ValueError as err:
            raise ApplicationError(str(err), type=INVALID_POSTING, non_retryable=True) from None
        if request.amount <= Decimal(0):
            raise ApplicationError(
                f"A write-off must be of a positive amount, not {request.amount}.",
                type=INVALID_POSTING,
                non_retryable=True,
            )
        if request.approved_by == request.verified_by:
            raise ApplicationError(
                "A write-off approved by the person who verified it breaks the four-eyes rule.",
                type=INVALID_POSTING,
                non_retryable=True,
            )
