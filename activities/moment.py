"""Record one workflow moment in the store: actions (and the tasks they create for people),
transitions, payments, promises and the account snapshot — in one transaction.

Every row is keyed by the workflow's own identifiers ((episode, seq) for actions and transitions,
(loan_id, payment_id) for payments), so a retried activity finds its earlier writes and adds
nothing twice. Channel delivery (Twilio, letters) hangs off the recorded action; this module only
records.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.exc import DataError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deliver import Deliverer
from activities.events import facts_of
from activities.metrics import CONTACTS, PAYMENTS, PROMISES, Tally, contact_decision
from domain.vocabulary import CLOSED_STATES, TASK_KINDS
from store.cases import record_case_action
from store.engine import as_utc, session_scope
from store.events import record_events
from store.models import AccountRow, ActionRow, PaymentRow, PromiseRow, TaskRow, TransitionRow
from store.upsert import insert_if_new
from workflows.contracts import (
    INVALID_MOMENT,
    ActionCommand,
    MomentRecord,
    PaymentRecord,
    ReassignmentDetail,
    TaskUpdate,
    TransitionRecord,
    task_id_for,
)

log = logging.getLogger(__name__)

# Action details a task carries to the person who works it: the number to dial, the agents a
# field visit needs, the promise due today (ranks first), who asked for an approval (four eyes),
# what it approves and for how much.
TASK_DETAIL_KEYS = (
    "to",
    "agents",
    "mention_debt",
    "promise_due",
    "requested_by",
    "approves",  # a lawsuit filing approval is the legal team's (issue 17 item 4)
    "amount",
    "currency",
    "purpose",
    "party",
    "never_to",
    "loans",
)


class MomentActivities:
    def __init__(self, database_url: str, deliverer: Deliverer | None = None) -> None:
        self._url = database_url
        self._deliverer = deliverer
        # Moments of many accounts run at once in the worker's threads: each its own tally.
        self._local = threading.local()

    @property
    def _tally(self) -> Tally:
        tally: Tally = self._local.tally
        return tally

    @activity.defn(name="apply_moment")
    def apply_moment(self, moment: MomentRecord) -> dict[str, Any]:
        self._local.tally = Tally()
        try:
            written = self._record(moment)
        except DataError as error:
            # A value the store cannot hold (too long, too large, a NUL): no retry can succeed,
            # and retrying for ever would freeze the account. The workflow records the loss and
            # goes on (AccountStatus.unrecorded_moments). The database's words name the column
            # type, never the value.
            raise ApplicationError(
                f"the store cannot hold this moment: {type(error.orig).__name__}: "
                f"{str(error.orig).splitlines()[0] if error.orig else error}",
                type=INVALID_MOMENT,
                non_retryable=True,
            ) from None
        self._tally.publish()  # committed: counted once, as booked once
        if any(written.values()):
            # One line per moment that changed the book; the log context names the account.
            log.info("moment recorded: %s", ", ".join(f"{k} {v}" for k, v in written.items() if v))
        # Recorded first and committed: a delivery that fails and retries finds the record.
        deliveries = self._deliverer.deliver(self._url, moment) if self._deliverer else []
        return {**written, "deliveries": [d.model_dump(mode="json") for d in deliveries]}

    def _record(self, moment: MomentRecord) -> dict[str, int]:
        with session_scope(self._url) as session:
            written = {
                "actions": sum(self._action(session, moment, a) for a in moment.actions),
                "transitions": sum(
                    self._transition(session, moment, t) for t in moment.transitions
                ),
                "payments": sum(self._payment(session, moment, p) for p in moment.payments),
                "promises": sum(self._promise(session, moment, p) for p in moment.promises),
                "task_updates": sum(self._task_update(session, u) for u in moment.task_updates),
            }
            opened = self._opens_episode(session, moment)
            self._snapshot(session, moment)
            # Last in the transaction: on PostgreSQL it takes the events lock until the commit.
            written["events"] = record_events(session, facts_of(moment, opened))
        return written

    def _action(self, session: Session, moment: MomentRecord, command: ActionCommand) -> int:
        # The row keeps the action's detail as its kind's model writes it (no nulls), plus the
        # step and template it came from and the task it created (workflows.contracts.details).
        task_kind = TASK_KINDS.get(command.kind)
        task_id = (
            task_id_for(moment.loan_id, moment.episode, command.seq)
            if task_kind is not None
            else None
        )
        detail = command.detail.model_copy(
            update={
                "step_id": command.step_id or None,
                "template": command.template or None,
                "task_id": task_id,
            }
        ).stored()
        status = command.status if task_kind is None else "task_created"
        row = ActionRow(
            loan_id=moment.loan_id,
            episode=moment.episode,
            seq=command.seq,
            at=command.at,
            kind=command.kind,
            channel=command.channel,
            stage=command.stage,
            status=status,
            detail=detail,
        )
        if not insert_if_new(session, row, "episode", "seq"):
            return 0  # recorded by an earlier attempt: its task and tallies came with it
        # A dispute or complaint case, its evidence and resolution (store/cases.py).
        record_case_action(session, row, moment.borrower.get("timezone"))
        decision = contact_decision(command.kind, detail)
        if decision is not None:
            self._tally.add(
                CONTACTS,
                channel=command.channel or "none",
                decision=decision,
                rule=str(detail.get("rule") or "unknown"),
            )
        if task_kind is not None and task_id is not None:
            not_before, not_after = command.task_window or (command.at, None)
            session.add(
                TaskRow(
                    task_id=task_id,
                    loan_id=moment.loan_id,
                    episode=moment.episode,
                    action_seq=command.seq,
                    kind=task_kind,
                    status="open",
                    # The account's holder (section 5) gets its new work; unheld work is open.
                    # An approval is never the holder's: it waits for a second pair of eyes
                    # (the holder may be its requester; issue 17 item 4).
                    assignee=None if task_kind == "approval" else moment.status.holder,
                    priority=command.priority,
                    not_before=not_before,
                    not_after=not_after,
                    detail={
                        "reason": detail.get("reason"),
                        "dpd": detail.get("dpd"),
                        "stage": command.stage,
                        "amount_overdue": detail.get("amount_overdue"),
                        # "Promises due today first" is judged on the borrower's calendar.
                        "timezone": moment.borrower.get("timezone"),
                        # What the collector's tools and the queue's ranking read.
                        **{
                            key: detail[key]
                            for key in TASK_DETAIL_KEYS
                            if detail.get(key) is not None
                        },
                    },
                    created_at=command.at,
                )
            )
        if isinstance(command.detail, ReassignmentDetail):
            self._hand_over_open_tasks(
                session,
                moment.loan_id,
                command.detail.to or None,
                list(command.detail.never_to or []),
            )
        return 1

    @staticmethod
    def _hand_over_open_tasks(
        session: Session, loan_id: str, holder: str | None, never_to: list[str]
    ) -> None:
        """A reassigned account's open work goes to its new holder, unclaimed (they pick it
        up); work held by someone the borrower complained about goes back to the queue, and
        carries who may never take it. Approvals stay with whoever may approve them."""
        for row in session.exec(
            select(TaskRow).where(
                TaskRow.loan_id == loan_id, TaskRow.status == "open", TaskRow.kind != "approval"
            )
        ).all():
            if holder is not None:
                row.assignee, row.claimed_at = holder, None
            elif row.assignee in never_to:
                row.assignee, row.claimed_at = None, None
            if never_to:
                row.detail = {**row.detail, "never_to": never_to}
            session.add(row)

    @staticmethod
    def _transition(session: Session, moment: MomentRecord, record: TransitionRecord) -> int:
        row = TransitionRow(loan_id=moment.loan_id, episode=moment.episode, **record.model_dump())
        return int(insert_if_new(session, row, "episode", "seq"))

    def _payment(self, session: Session, moment: MomentRecord, record: PaymentRecord) -> int:
        row = PaymentRow(loan_id=moment.loan_id, **record.model_dump())
        if not insert_if_new(session, row, "loan_id", "payment_id"):
            return 0
        self._tally.add(PAYMENTS, currency=moment.status.currency)
        return 1

    def _promise(self, session: Session, moment: MomentRecord, view: Any) -> int:
        row = session.get(PromiseRow, view.promise_id)
        if row is None:
            session.add(
                PromiseRow(
                    promise_id=view.promise_id,
                    loan_id=moment.loan_id,
                    amount=view.amount,
                    promised_date=view.promised_date,
                    pay_to=view.pay_to,
                    status=view.status,
                    made_at=view.made_at,
                    resolved_at=None if view.status == "open" else moment.at,
                )
            )
            self._tally.add(PROMISES, outcome="made")
            if view.status != "open":
                self._tally.add(PROMISES, outcome=view.status)
            return 1
        if row.status != view.status:
            self._tally.add(PROMISES, outcome=view.status)
            row.status = view.status
            row.resolved_at = moment.at
            session.add(row)
            return 1
        return 0

    def _task_update(self, session: Session, update: TaskUpdate) -> int:
        """Close a task the workflow gave up on; a task a person already closed keeps its
        outcome."""
        row = session.get(TaskRow, update.task_id)
        if row is None or row.status != "open":
            return 0
        row.status = update.status
        row.closed_at = update.at
        row.detail = {**row.detail, "closed_reason": update.reason}
        session.add(row)
        return 1

    @staticmethod
    def _opens_episode(session: Session, moment: MomentRecord) -> bool:
        """Whether this is the store's first moment of the episode (`account.opened`)."""
        row = session.get(AccountRow, moment.loan_id)
        return row is None or row.episode != moment.episode

    def _snapshot(self, session: Session, moment: MomentRecord) -> None:
        status = moment.status
        row = session.get(AccountRow, moment.loan_id)
        if row is None:
            row = AccountRow(
                loan_id=moment.loan_id,
                workflow_id=moment.workflow_id,
                episode=moment.episode,
                state=status.state,
                bucket=status.bucket,
                stage=status.stage,
                segment=moment.segment,
                strategy=f"{status.strategy.name}@{status.strategy.version}",
                currency=status.currency,
                opened_at=moment.at,
            )
        elif row.episode != moment.episode:
            row.episode, row.opened_at, row.closed_at = moment.episode, moment.at, None
        if row.updated_at is not None and as_utc(row.updated_at) > moment.at:  # type: ignore[operator]
            return  # a late retry of an older moment must not overwrite a newer snapshot
        row.state, row.dpd, row.bucket, row.stage = (
            status.state,
            status.dpd,
            status.bucket,
            status.stage,
        )
        row.amount_overdue, row.penalty_accrued = status.amount_overdue, status.penalty_accrued
        row.paid_total = status.paid_total
        row.assignee = status.holder
        row.timezone = moment.borrower.get("timezone") or row.timezone
        row.status = status.model_dump(mode="json")
        row.updated_at = moment.at
        if status.state in CLOSED_STATES:
            row.closed_at = moment.at
        session.add(row)
