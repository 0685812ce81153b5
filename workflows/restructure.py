"""DebtRestructureWorkflow: the restructure offer and, once accepted, the plan it creates
(PLAYBOOK.md sections 2 and 9; issue 5).

A child of the AccountWorkflow (id `restructure-{loan_id}-{n}`, ParentClosePolicy.ABANDON, so it
outlives the parent's continue-as-new). It talks to the parent only by signal through the
parent's workflow id, which always reaches the parent's current run: it reports with
`subflow_event`, and the parent forwards the borrower's `answer`, the account's `payment`s and,
when the account leaves restructuring for another reason (bankruptcy, death), `cancel`.

It wakes only at the moments that matter: the end of the offer's last day, the break deadline of
the oldest plan instalment not yet covered, and messages. The parent records every action in the
store, so this workflow runs no activities.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.parent_signal import tell_parent

with workflow.unsafe.imports_passed_through():
    from domain.account import PaymentIn
    from domain.calendar import local_date, start_of_local_day
    from domain.restructure import (
        InstalmentProgress,
        RestructureOffer,
        break_day,
        build_offer,
        plan_progress,
    )
    from workflows.contracts import (
        RestructureAnswer,
        RestructureInput,
        SubflowEventKind,
    )

INVALID_OFFER = "InvalidRestructureOffer"

RestructureState = Literal[
    "offered", "accepted", "declined", "expired", "broken", "completed", "cancelled"
]
FINAL_OUTCOMES: frozenset[str] = frozenset(
    {"declined", "expired", "broken", "completed", "cancelled"}
)


class NextPlanDue(BaseModel):
    """The oldest plan instalment not yet covered, and when it breaks the plan if still unpaid."""

    seq: int
    due_date: date
    owed: Decimal
    breaks_at: datetime = Field(description="the end of its last borrower-local day of grace")


class RestructureStatus(BaseModel):
    """The `status` query's answer: where the offer and the plan stand."""

    loan_id: str
    state: RestructureState
    offer: RestructureOffer | None = Field(default=None, description="None until it is built")
    offer_expires_at: datetime | None = None
    accepted: bool = False
    accepted_at: datetime | None = None
    paid_toward_plan: Decimal = Decimal(0)
    remaining: Decimal | None = Field(default=None, description="plan total - paid, not below 0")
    next_due: NextPlanDue | None = None
    payments_counted: int = 0
    cancel_reason: str | None = None


@workflow.defn(name="DebtRestructureWorkflow")
class DebtRestructureWorkflow:
    @workflow.init
    def __init__(self, input: RestructureInput) -> None:
        # Signals can be handled before `run` starts: everything they touch exists from here.
        self._input = input
        self._terms: RestructureOffer | None = None
        self._offer: RestructureOffer | None = None
        self._state: RestructureState = "offered"
        self._answer: RestructureAnswer | None = None
        self._accepted_at: datetime | None = None
        self._paid = Decimal(0)
        self._payment_ids: list[str] = []
        self._cancel_reason: str | None = None
        self._wake = False

    # ------------------------------------------------------------------ the lifecycle

    @workflow.run
    async def run(self, input: RestructureInput) -> str:
        """The final outcome: declined, expired, broken, completed or cancelled."""
        today = local_date(workflow.now(), input.timezone)
        try:
            terms = build_offer(
                input.balance, input.penalty_accrued, input.currency, today, input.policy
            )
        except ValueError as exc:
            # Bad input from the parent: fail this child (the parent sees why) instead of
            # retrying the workflow task forever.
            raise ApplicationError(str(exc), type=INVALID_OFFER, non_retryable=True) from None
        self._terms = terms
        self._offer = terms
        if self._cancel_reason is None:
            await self._tell("restructure_offered", self._offer_detail())
            await self._await_answer()
        if self._state == "accepted":
            await self._monitor_plan()
        if self._cancel_reason is not None:
            self._state = "cancelled"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _await_answer(self) -> None:
        """Until the end of the offer's last borrower-local day; the first answer counts."""
        expiry = self._expires_at()
        # A timeout is the offer expiring; wait_condition raises it as TimeoutError.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._answer is not None or self._cancel_reason is not None,
                timeout=max(expiry - workflow.now(), timedelta(0)),
            )
        if self._cancel_reason is not None:
            return
        if self._answer is None:
            self._state = "expired"
            await self._tell(
                "restructure_expired", {"expires_on": self._offer_detail()["expires_on"]}
            )
        elif self._answer.decision == "decline":
            self._state = "declined"
            await self._tell("restructure_declined", {"recorded_by": self._answer.recorded_by})
        else:
            self._state = "accepted"
            self._accepted_at = workflow.now()
            await self._tell(
                "restructure_accepted",
                {**self._offer_detail(), "recorded_by": self._answer.recorded_by},
            )

    async def _monitor_plan(self) -> None:
        """Sleep until the break deadline of the oldest uncovered instalment, or a message.

        Later instalments' deadlines are later, so the oldest one is the only timer needed; a
        payment that covers it moves the timer on, and covering the last one completes the plan
        at once.
        """
        while self._cancel_reason is None:
            pending = self._uncovered()
            if not pending:
                self._state = "completed"
                await self._tell("restructure_completed", {"paid": str(self._paid)})
                return
            oldest = pending[0]
            deadline = self._breaks_at(oldest.due_date)
            now = workflow.now()
            if now >= deadline:
                self._state = "broken"
                await self._tell("restructure_broken", self._broken_detail(oldest, now))
                return
            self._wake = False
            # A timeout means the deadline came: the next turn judges the instalment.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=deadline - now)

    # ------------------------------------------------------------------ messages

    @workflow.signal
    def answer(self, answer: RestructureAnswer) -> None:
        """The borrower's decision (API or call outcome, forwarded by the parent). The first one
        counts: a later contradicting answer does not undo an accepted or declined offer."""
        if self._answer is None and self._state == "offered":
            self._answer = answer

    @workflow.signal
    def payment(self, payment: PaymentIn) -> None:
        """A payment on the account, forwarded by the parent; the same payment_id counts once.

        Every payment after the offer counts toward the plan, including those made while the
        offer was open: the offer's total is the balance at the time of the offer.
        """
        if self._state in FINAL_OUTCOMES or payment.payment_id in self._payment_ids:
            return
        self._payment_ids.append(payment.payment_id)
        self._paid += payment.amount
        self._wake = True

    @workflow.signal
    def cancel(self, reason: str | None = None) -> None:
        """The parent ends the subflow (bankruptcy, death, a settlement): no further events. The
        reason is optional: the AccountWorkflow sends the signal without one."""
        if self._state in FINAL_OUTCOMES or self._cancel_reason is not None:
            return
        self._cancel_reason = reason or "cancelled by the account"
        self._wake = True

    @workflow.query
    def status(self) -> RestructureStatus:
        pending = self._uncovered() if self._terms is not None else []
        next_due = None
        if pending and self._state in ("offered", "accepted"):
            oldest = pending[0]
            next_due = NextPlanDue(
                seq=oldest.seq,
                due_date=oldest.due_date,
                owed=oldest.owed,
                breaks_at=self._breaks_at(oldest.due_date),
            )
        return RestructureStatus(
            loan_id=self._input.loan_id,
            state=self._state,
            offer=self._offer,
            offer_expires_at=self._expires_at() if self._offer is not None else None,
            accepted=self._accepted_at is not None,
            accepted_at=self._accepted_at,
            paid_toward_plan=self._paid,
            remaining=max(Decimal(0), self._offer.total - self._paid)
            if self._offer is not None
            else None,
            next_due=next_due,
            payments_counted=len(self._payment_ids),
            cancel_reason=self._cancel_reason,
        )

    # ------------------------------------------------------------------ helpers

    def _uncovered(self) -> list[InstalmentProgress]:
        assert self._terms is not None
        return [p for p in plan_progress(self._terms.instalments, self._paid) if not p.covered]

    def _expires_at(self) -> datetime:
        """The offer is open through its `expires_on`, all of that borrower-local day."""
        assert self._offer is not None
        return start_of_local_day(self._offer.expires_on + timedelta(days=1), self._input.timezone)

    def _breaks_at(self, due_date: date) -> datetime:
        day = break_day(due_date, self._input.policy)
        return start_of_local_day(day + timedelta(days=1), self._input.timezone)

    def _offer_detail(self) -> dict[str, object]:
        """The offer as JSON, plus `instalment_count`, the key the restructure_offer letter reads
        (its `instalments` key would be this list, not a count)."""
        assert self._offer is not None
        return {
            **self._offer.model_dump(mode="json"),
            "instalment_count": len(self._offer.instalments),
        }

    def _broken_detail(self, oldest: InstalmentProgress, now: datetime) -> dict[str, object]:
        late = (local_date(now, self._input.timezone) - oldest.due_date).days - 1
        return {
            "instalment": oldest.seq,
            "due_date": oldest.due_date.isoformat(),
            # whole borrower-local days it stayed unpaid after falling due
            "days_late": max(late, self._input.policy.missed_days_to_break),
            "paid": str(oldest.paid),
            "owed": str(oldest.owed),
            "paid_toward_plan": str(self._paid),
        }

    async def _tell(self, kind: SubflowEventKind, detail: dict[str, Any]) -> None:
        """Signal the parent by workflow id only (no run id), so the event reaches the run that
        is current after a continue-as-new. A parent that no longer exists cannot be told: the
        outcome is still this workflow's result, so log and go on rather than fail the plan."""
        failure = await tell_parent("restructure", self._input.account_workflow_id, kind, detail)
        if failure is not None:
            workflow.logger.warning(
                "restructure event %s not delivered to %s: %s",
                kind,
                self._input.account_workflow_id,
                failure,
            )
