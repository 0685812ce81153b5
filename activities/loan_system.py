"""Tell the loan system what collections decided: an approved write-off.

The posting is a `write_off.approved` event in the event log (store/events.py), which the loan
system reads (`GET /v1/events`) or receives (the delivery process's webhook) like every other
fact. Its key is the WriteOffWorkflow's id, so this activity needs only our own database, and a
retry (a worker that died after the commit, a lost completion) finds the event it wrote and
returns the same reference instead of posting the loan twice. (Before issue 16 it went into a
`loan_system_outbox` table that nothing delivered; migration 0013 drops it.)
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.money import check_precision
from domain.vocabulary import EventType
from store.engine import session_scope
from store.events import EventFact, EventRow, record_events
from workflows.write_off_messages import WriteOffPosting

INVALID_POSTING = "InvalidPosting"


def write_off_key(request: WriteOffPosting) -> str:
    """One write-off per WriteOffWorkflow: the event's idempotency key."""
    return f"{request.loan_id}:write_off:{request.workflow_id}"


def reference_of(event_id: int) -> str:
    """The reference the loan system and our auditors quote: the event's own id."""
    return f"EVT-{event_id:08d}"


class LoanSystemActivities:
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    @activity.defn(name="post_write_off")
    def post_write_off(self, request: WriteOffPosting) -> str:
        """Record the write-off event once and return its reference (the same on every retry;
        a concurrent attempt's insert is skipped by key, and both read the one event)."""
        self._check(request)
        key = write_off_key(request)
        fact = EventFact(
            key=key,
            at=request.at,
            loan_id=request.loan_id,
            type=EventType.WRITE_OFF_APPROVED,
            data={
                "amount": str(request.amount),
                "currency": request.currency,
                "reason": request.reason,
                "approved_by": request.approved_by,
                "verified_by": request.verified_by,
                "episode": request.episode,
                "at": request.at.isoformat(),
            },
        )
        with session_scope(self._url) as session:
            record_events(session, [fact])
        with session_scope(self._url) as session:
            event_id = session.exec(select(EventRow.id).where(col(EventRow.key) == key)).one()
        assert event_id is not None
        return reference_of(event_id)

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
