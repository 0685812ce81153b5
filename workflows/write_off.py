"""WriteOffWorkflow: bankruptcy or death, from document verification to the posted write-off.

A child of the AccountWorkflow (PLAYBOOK.md section 8). It owns no store tables and creates no
tasks itself: it asks the parent for a `verification` and an `approval` task (`task_needed`),
and the parent, which records every task and action, forwards each person's answer back as a
`task_outcome` signal. Parent and child talk only by signal through workflow ids, so the
conversation survives the parent's continue-as-new. The only side effect of its own is the
write-off posting to the loan system, an idempotent outbox write.

Every wait has a deadline from the strategy (`WriteOffPolicy`): an unanswered verification is
asked again at most twice and then counts as not verified (the account goes back to
collection); an unanswered approval is asked again once and then counts as rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.parent_signal import tell_parent

with workflow.unsafe.imports_passed_through():
    from domain.calendar import local_date
    from domain.money import quantize
    from workflows.contracts import ChildTaskOutcome, SubflowEventKind, WriteOffInput
    from workflows.write_off_messages import (
        AskedTask,
        SettlementOffer,
        WriteOffPosting,
        WriteOffResult,
        WriteOffStage,
        WriteOffStatus,
    )

# Documents the anti-fraud team must see, by reason (PLAYBOOK.md section 8). `required: False`
# marks a document needed only in some cases (a death declared by a court rather than certified
# by a hospital).
CHECKLISTS: dict[str, list[dict[str, Any]]] = {
    "deceased": [
        {"document": "death_certificate", "required": True},
        {"document": "cremation_certificate", "required": True},
        {"document": "household_registration_cancellation", "required": True},
        {
            "document": "court_judgment",
            "required": False,
            "note": "when the death was declared by a court or the estate is disputed",
        },
    ],
    "bankruptcy": [
        {"document": "bankruptcy_certificate", "required": True},
        {
            "document": "court_judgment",
            "required": True,
            "note": "the court's ruling that opened or declared the bankruptcy",
        },
    ],
}
# A charge-off (the strategy's charge-off day past due) is reviewed, not verified against
# documents of a death or a bankruptcy: the reviewer confirms the file before approval.
CHECKLISTS["charge_off"] = [
    {"document": "collection_history", "required": True, "note": "every stage's actions"},
    {"document": "balance_confirmation", "required": True, "note": "with the loan system"},
    {
        "document": "legal_case_status",
        "required": False,
        "note": "when a suit was prepared or filed",
    },
]
# What verifying means besides reading documents: discreet inquiries, then checking the
# documents with whoever issued them.
VERIFICATION_CHECKS = [
    "discreet inquiries with contacts, employer, relatives and the home phone",
    "verify the documents with their issuers (hospital, police, court)",
]
# What the anti-fraud team does besides, by reason (PLAYBOOK.md section 8, after a death: "meet
# the related party and check original documents; visit on site; assemble the full file").
REASON_CHECKS: dict[str, tuple[str, ...]] = {
    "deceased": (
        "meet the related party and check the original documents",
        "visit on site",
        "assemble the full file for the write-off",
    ),
    "bankruptcy": ("assemble the full file for the write-off",),
}
OUTCOMES: dict[str, frozenset[str]] = {
    "verification": frozenset({"verified", "not_verified"}),
    "approval": frozenset({"approved", "rejected"}),
}
VERIFICATION_REMINDERS = 2
APPROVAL_REMINDERS = 1
SETTLEMENT_VALID_DAYS = 30

# The outbox write is a local database insert: retry it until the database is back (an
# approved write-off must reach the loan system), unless the posting itself is invalid.
POSTING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["InvalidPosting"],
)

TaskKind = Literal["verification", "approval"]


@workflow.defn(name="WriteOffWorkflow")
class WriteOffWorkflow:
    @workflow.init
    def __init__(self, input: WriteOffInput) -> None:
        # State exists before the first signal can be delivered, whatever the order of jobs.
        self._input = input
        self._stage: WriteOffStage = "verifying"
        self._tasks: list[AskedTask] = []
        self._outcomes: dict[str, ChildTaskOutcome] = {}
        self._ignored: list[str] = []
        self._cancelled = False
        self._settlement: SettlementOffer | None = None
        self._verified_by: str | None = None
        self._approved_by: str | None = None
        self._posted_ref: str | None = None
        self._result: WriteOffResult | None = None
        # What is owed now: the parent tells the balance again after each payment.
        self._balance: Decimal = input.balance

    @workflow.run
    async def run(self, input: WriteOffInput) -> str:
        verification = await self._ask_until_answered(
            "verification", "verify", VERIFICATION_REMINDERS, input.policy.verification_days
        )
        if self._cancelled:
            return self._finish("cancelled")
        if verification is None or verification.outcome != "verified":
            why = "verification timed out" if verification is None else "not verified"
            await self._tell("write_off_not_verified", self._answer_detail(verification, why))
            return self._finish("not_verified")
        self._verified_by = verification.recorded_by

        if input.reason == "deceased":
            await self._offer_settlement()
            if self._cancelled:
                return self._finish("cancelled")

        self._stage = "approving"
        approval = await self._ask_until_answered(
            "approval", "approve", APPROVAL_REMINDERS, input.policy.approval_days
        )
        if self._cancelled:
            return self._finish("cancelled")
        if approval is None or approval.outcome != "approved":
            why = "approval timed out" if approval is None else "rejected"
            await self._tell("write_off_rejected", self._answer_detail(approval, why))
            return self._finish("rejected")
        self._approved_by = approval.recorded_by

        # From here the write-off is decided: a late `cancel` no longer undoes it, and money
        # that arrives afterwards is a recovery the parent books as such.
        self._stage = "posting"
        self._posted_ref = await workflow.execute_activity(
            "post_write_off",
            WriteOffPosting(
                loan_id=input.loan_id,
                workflow_id=workflow.info().workflow_id,
                episode=input.episode,
                amount=self._balance,
                currency=input.currency,
                reason=input.reason,
                verified_by=self._verified_by,
                approved_by=self._approved_by,
                at=approval.at,
            ),
            result_type=str,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=POSTING_RETRY,
        )
        await self._tell(
            "written_off",
            {
                "amount": str(self._balance),
                "currency": input.currency,
                "posted_ref": self._posted_ref,
                "approved_by": self._approved_by,
                "verified_by": self._verified_by,
            },
        )
        return self._finish("written_off")

    # ------------------------------------------------------------------ asking for work

    async def _ask_until_answered(
        self, kind: TaskKind, prefix: str, reminders: int, days: int
    ) -> ChildTaskOutcome | None:
        """Ask for a task and wait `days` for its outcome; an unanswered task is asked again
        (a reminder with a new key, because the first task may have expired in the queue) up to
        `reminders` times. An answer to any of the keys counts, so a late answer to the first
        task is not lost. None means nobody answered in time (or the write-off was cancelled).
        """
        first_key = f"{prefix}-1"
        for attempt in range(1, reminders + 2):
            key = f"{prefix}-{attempt}"
            await self._ask(kind, key, reminder_of=None if attempt == 1 else first_key)
            if self._cancelled:
                return None
            try:
                await workflow.wait_condition(
                    self._answered_or_cancelled(kind), timeout=timedelta(days=days)
                )
            except TimeoutError:
                continue
            return None if self._cancelled else self._answer(kind)
        return None

    async def _ask(self, kind: TaskKind, key: str, reminder_of: str | None) -> None:
        now = workflow.now()
        self._tasks.append(AskedTask(task_kind=kind, task_key=key, at=now, reminder_of=reminder_of))
        detail: dict[str, Any] = {"task_kind": kind, "task_key": key}
        if kind == "verification":
            detail["checklist"] = CHECKLISTS[self._input.reason]
            detail["checks"] = [
                *VERIFICATION_CHECKS,
                *REASON_CHECKS.get(self._input.reason, ()),
            ]
            detail["reason"] = self._input.reason
            detail["reported_by"] = self._input.reported_by
        else:
            # Four eyes: the API refuses an approval from the person who verified the file.
            detail["requested_by"] = self._verified_by
            detail["amount"] = str(self._balance)
            detail["currency"] = self._input.currency
            detail["reason"] = self._input.reason
        if reminder_of is not None:
            detail["reminder_of"] = reminder_of
        await self._tell("task_needed", detail)

    def _answered_or_cancelled(self, kind: TaskKind) -> Callable[[], bool]:
        return lambda: self._cancelled or self._answer(kind) is not None

    def _answer(self, kind: TaskKind) -> ChildTaskOutcome | None:
        """The first counted outcome of any task of this kind that was asked for."""
        for task in self._tasks:
            if task.task_kind == kind and task.task_key in self._outcomes:
                return self._outcomes[task.task_key]
        return None

    # ------------------------------------------------------------------ settlement

    async def _offer_settlement(self) -> None:
        """Heirs may settle on the borrower's behalf at the largest discount the strategy allows
        (PLAYBOOK.md section 8); the offer is recorded for the family and the file goes on to
        approval meanwhile. A payment in full of it reaches the parent as a normal payment."""
        pct = self._input.policy.related_party_max_discount_pct
        currency = self._input.currency
        offer = SettlementOffer(
            amount=quantize(self._balance * (Decimal(1) - pct), currency),
            discount_pct=pct,
            expires_on=local_date(workflow.now(), self._input.timezone)
            + timedelta(days=SETTLEMENT_VALID_DAYS),
        )
        self._settlement = offer
        await self._tell(
            "settlement_offered",
            {
                "amount": str(offer.amount),
                "discount_pct": str(offer.discount_pct),
                "expires_on": offer.expires_on.isoformat(),
                "currency": currency,
                "balance": str(self._balance),
                "to": "related_parties",
            },
        )

    # ------------------------------------------------------------------ talking to the parent

    async def _tell(self, kind: SubflowEventKind, detail: dict[str, Any]) -> None:
        """Signal the parent through its workflow id, which reaches its current run even after
        a continue-as-new. A parent that is gone cannot act on the event: that is logged, not
        fatal, so the write-off's own record (status, outbox) still completes."""
        failure = await tell_parent("write_off", self._input.account_workflow_id, kind, detail)
        if failure is not None:
            workflow.logger.warning("could not tell the account workflow %s: %s", kind, failure)
            self._ignored.append(f"event {kind} not delivered: {failure}")

    def _answer_detail(self, outcome: ChildTaskOutcome | None, why: str) -> dict[str, Any]:
        detail: dict[str, Any] = {"reason": why}
        if outcome is not None:
            detail.update(
                task_key=outcome.task_key,
                task_id=outcome.task_id,
                recorded_by=outcome.recorded_by,
                notes=outcome.notes,
            )
        return detail

    def _finish(self, result: WriteOffResult) -> str:
        self._stage = "done"
        self._result = result
        return result

    # ------------------------------------------------------------------ messages

    @workflow.signal
    def task_outcome(self, outcome: ChildTaskOutcome) -> None:
        """The parent forwards a person's outcome. The first outcome per task key counts; an
        outcome that does not fit the task, or an approval by the verifier (four eyes, in case
        anything bypassed the API's check), is kept out and noted."""
        if outcome.task_key in self._outcomes:
            self._ignored.append(f"{outcome.task_key}: duplicate outcome {outcome.outcome}")
            return
        task = next((t for t in self._tasks if t.task_key == outcome.task_key), None)
        if task is None:
            self._ignored.append(f"{outcome.task_key}: no such task was asked for")
            return
        if outcome.outcome not in OUTCOMES[task.task_kind]:
            self._ignored.append(
                f"{outcome.task_key}: {outcome.outcome} is not an outcome of {task.task_kind}"
            )
            return
        if (
            task.task_kind == "approval"
            and outcome.outcome == "approved"
            and outcome.recorded_by == self._verified_by
        ):
            self._ignored.append(
                f"{outcome.task_key}: approved by {outcome.recorded_by}, who verified the file"
            )
            return
        self._outcomes[outcome.task_key] = outcome

    @workflow.signal
    def balance(self, balance: Decimal) -> None:
        """The parent's balance after a payment: the write-off posts what is owed when it is
        approved, to the cent. Too late once the posting has begun."""
        if self._stage in ("posting", "done"):
            self._ignored.append(f"balance {balance} after approval ignored")
            return
        self._balance = balance

    @workflow.signal
    def cancel(self, reason: str | None = None) -> None:
        """The parent's account was cured or paid meanwhile: stop without telling it anything
        (it already knows). Too late once the approved write-off is being posted."""
        if self._stage in ("posting", "done"):
            self._ignored.append(f"cancel after approval ignored: {reason or 'no reason'}")
            return
        self._cancelled = True

    @workflow.query
    def status(self) -> WriteOffStatus:
        return WriteOffStatus(
            loan_id=self._input.loan_id,
            child_id=workflow.info().workflow_id,
            reason=self._input.reason,
            balance=self._balance,
            currency=self._input.currency,
            stage=self._stage,
            tasks=list(self._tasks),
            outcomes=list(self._outcomes.values()),
            ignored=list(self._ignored),
            settlement=self._settlement,
            verified_by=self._verified_by,
            approved_by=self._approved_by,
            posted_ref=self._posted_ref,
            result=self._result,
        )


__all__ = ["CHECKLISTS", "WriteOffWorkflow"]
