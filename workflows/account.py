"""AccountWorkflow: one delinquent loan account from pre-1day until it is paid, cured or closed.

The workflow keeps the account's state and sleeps until the next moment that matters (a step of
the treatment ladder, the end of the due date, a bucket or stage boundary, a promise deadline) or
until a message arrives. Every wake-up recomputes everything from the state and the workflow's
clock, so a partial payment re-anchors the ladder and nothing fires twice or is skipped. Each
moment's side effects go out in one activity call.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.account import PromiseIn
    from domain.book import LoanBook
    from domain.calendar import local_date, local_instant, start_of_local_day, zone
    from domain.contact import Hold, ProposedContact, active_holds, earliest_allowed
    from domain.outcomes import outcome_error
    from domain.plan import (
        due_steps,
        latest_per_action,
        next_step,
        slot_window,
        step_key,
    )
    from domain.promise import (
        Promise,
        deadline,
        judge_promise,
        needs_supervisor,
        validate_promise,
    )
    from domain.strategy import Step, Strategy
    from workflows.contact_gate import (
        CONTACT_CHANNELS,
        DEAD,
        NOT_REACHED,
        TWILIO_CANNOT_RECEIVE_SMS,
        TWILIO_INVALID_NUMBER,
        TWILIO_UNSUBSCRIBED,
        choose_target,
        context_of,
        opening_ledger,
        outcome_record,
        profile_of,
        sent_record,
    )
    from workflows.messages import (
        CLOSED_STATES,
        TASK_KINDS,
        AccountStatus,
        AccountWorkflowInput,
        ActionCommand,
        ContactEvent,
        ContactInfoRequest,
        HoldRelease,
        HoldRequest,
        HoldView,
        InstalmentsIn,
        MomentRecord,
        NextAction,
        PaymentIn,
        PaymentRecord,
        PromiseRequest,
        PromiseView,
        StrategyRef,
        TaskOutcome,
        TaskUpdate,
        TransitionRecord,
        task_id_for,
    )
    from workflows.state import DeferredContact, EpisodeState, OpenTask

STATE_KEY = SearchAttributeKey.for_keyword("ArrearsState")
BUCKET_KEY = SearchAttributeKey.for_keyword("ArrearsBucket")
STAGE_KEY = SearchAttributeKey.for_keyword("ArrearsStage")
SEGMENT_KEY = SearchAttributeKey.for_keyword("ArrearsSegment")

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidMoment"],
)

# Promise rejections carry a type the API maps to an HTTP status.
INVALID_PROMISE = "InvalidPromise"  # 422
NOT_ALLOWED = "NotAllowedInState"  # 409
SUPERVISOR_REQUIRED = "SupervisorRequired"  # 409
UNKNOWN_TASK = "UnknownTask"  # 404
TASK_CLOSED = "TaskClosed"  # 409
INVALID_OUTCOME = "InvalidOutcome"  # 422
MAX_REMEMBERED_TASKS = 500
# Changes made after the first histories were recorded (tests/histories/v1) run only where this
# marker is in history, so episodes started under the old code replay unchanged
# (docs/versioning.md).
PATCH_TASKS = "arrears-2-task-outcomes"
PATCH_GATE = "arrears-2-compliance-gate"
NO_SUCH_HOLD = "NoSuchHold"  # 409
# What `earliest_allowed` notes about its search, as opposed to obligations of the contact.
SEARCH_NOTES = frozenset({"blocked_by", "blocked_chain", "not_before"})
# Holds after which the borrower's open work is cancelled: nobody may call or visit them.
CANCELS_TASKS: dict[str, frozenset[str]] = {
    "bankruptcy": frozenset({"call", "field_visit", "skip_trace"}),
    "deceased": frozenset({"call", "field_visit"}),
    "cease_communication": frozenset({"call", "field_visit"}),
    "attorney": frozenset({"call", "field_visit"}),
}

MAX_REMEMBERED_REQUEST_IDS = 200


@workflow.defn(name="AccountWorkflow")
class AccountWorkflow:
    @workflow.init
    def __init__(self, input: AccountWorkflowInput) -> None:
        self._strategy: Strategy = input.strategy
        account = input.account
        self._s: EpisodeState = input.carried or EpisodeState(
            account=account,
            book=LoanBook.open(
                account.instalments,
                account.currency,
                account.penalty_rate_daily,
                input.strategy.allocation,
            ),
        )
        self._fired: set[str] = set(self._s.fired)
        if self._s.ledger is None:
            self._s.ledger = opening_ledger(account)
        self._profile = profile_of(self._s.account, input.strategy)
        self._context = context_of(self._s.account, input.strategy)
        self._wake = False
        self._pending_actions: list[ActionCommand] = []
        self._pending_transitions: list[TransitionRecord] = []
        self._pending_payments: list[PaymentRecord] = []
        self._pending_promises: list[PromiseView] = []
        self._pending_task_updates: list[TaskUpdate] = []
        self._patches: dict[str, bool] = {}
        self._next: NextAction | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ time and derived facts

    @property
    def _tz(self) -> str:
        return self._s.account.borrower.timezone

    def _today(self, now: datetime | None = None) -> date:
        return local_date(now or workflow.now(), self._tz)

    @property
    def _treatment(self) -> list[Step]:
        return self._strategy.treatment_for(self._s.account.segment)

    @property
    def _slots(self) -> list[tuple[time, time]]:
        return [(s.start, s.end) for s in self._strategy.preferred_slots]

    def _first_due(self) -> date:
        return min(i.due_date for i in self._s.book.instalments)

    # ------------------------------------------------------------------ the main loop

    @workflow.run
    async def run(self, input: AccountWorkflowInput) -> AccountStatus:
        info = workflow.info()
        if input.carried is None:
            self._s.episode = info.first_execution_run_id
            self._s.opened_at = workflow.now()
            self._upsert_search_attributes(initial=True)
        while True:
            now = workflow.now()
            async with self._lock:
                stage_before = self._s.stage
                self._advance(now)
            if self._has_pending():
                await self._flush(now)
            if self._s.state in CLOSED_STATES:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._has_pending():
                    await self._flush(workflow.now())
                return self.status()
            wake_at = self._plan_next(now)
            if self._should_continue_as_new(stage_before):
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._has_pending():
                    self._continue_as_new(input)
                continue
            self._wake = False
            timeout = (wake_at - now) if wake_at is not None else None
            # A timeout means the moment came; the next turn of the loop acts on it.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=timeout)

    def _should_continue_as_new(self, stage_before: str) -> bool:
        """At a stage boundary (a safe point: everything flushed) or when the server suggests it,
        so a 180-day episode is a chain of short histories."""
        crossed_stage = self._s.state == "delinquent" and stage_before not in (
            self._s.stage,
            "pre_due",
        )
        return crossed_stage or workflow.info().is_continue_as_new_suggested()

    def _continue_as_new(self, input: AccountWorkflowInput) -> None:
        self._s.fired = sorted(self._fired)
        if self._s.ledger is not None:
            # Only what a rule can still count travels on; the store keeps the full record.
            self._s.ledger = self._s.ledger.pruned(self._profile.prune_before(workflow.now()))
        self._s.runs += 1
        workflow.continue_as_new(
            AccountWorkflowInput(account=self._s.account, strategy=self._strategy, carried=self._s)
        )

    def _has_pending(self) -> bool:
        return bool(
            self._pending_actions
            or self._pending_transitions
            or self._pending_payments
            or self._pending_promises
            or self._pending_task_updates
        )

    async def _flush(self, now: datetime) -> None:
        """One activity carries all of this moment's effects (DESIGN.md: cheap episodes)."""
        record = MomentRecord(
            loan_id=self._s.account.loan_id,
            workflow_id=workflow.info().workflow_id,
            episode=self._s.episode,
            at=now,
            status=self.status(),
            segment=self._s.account.segment,
            actions=self._pending_actions,
            transitions=self._pending_transitions,
            payments=self._pending_payments,
            promises=self._pending_promises,
            task_updates=self._pending_task_updates,
            borrower={
                "name": self._s.account.borrower.name,
                "address": self._s.account.borrower.address,
                "locale": self._s.account.borrower.locale,
                "timezone": self._tz,
                "currency": self._s.account.currency,
            },
        )
        self._pending_actions, self._pending_transitions = [], []
        self._pending_payments, self._pending_promises = [], []
        self._pending_task_updates = []
        result = await workflow.execute_activity(
            "apply_moment",
            record,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RECORD_RETRY,
        )
        self._learn_from_deliveries(record.actions, result)

    def _learn_from_deliveries(self, sent: list[ActionCommand], result: object) -> None:
        """A provider's permanent refusal is a fact the next contact must respect: an invalid
        number is dead; a number that cannot take texts, or unsubscribed, gets no more SMS."""
        if not isinstance(result, dict) or self._s.ledger is None:
            return
        targets = {a.seq: a.detail.get("to") for a in sent}
        ledger = self._s.ledger
        for delivery in result.get("deliveries") or []:
            number = targets.get(delivery.get("seq"))
            if delivery.get("status") != "failed" or not number:
                continue
            code = delivery.get("error_code")
            if code == TWILIO_INVALID_NUMBER:
                ledger = ledger.with_dead_number(number)
            elif code in (TWILIO_UNSUBSCRIBED, TWILIO_CANNOT_RECEIVE_SMS):
                ledger = ledger.with_consent("sms", False, number)
        self._s.ledger = ledger

    # ------------------------------------------------------------------ deciding

    def _advance(self, now: datetime) -> None:
        """Bring the state up to `now`: accrue, judge the promise, move state and bucket, and
        queue the ladder steps whose moment has come."""
        today = self._today(now)
        book = self._s.book
        if today > self._first_due():
            book.accrue_to(today)
        self._judge_promise(now, today)
        if self._patched(PATCH_TASKS):
            self._expire_tasks(now)
        dpd = book.dpd(today)
        overdue = book.amount_overdue(today)

        if self._s.state == "pre_due":
            if today > self._first_due():
                if overdue == 0:
                    self._transition(now, "paid_on_time", dpd, "paid by the end of the due date")
                    return
                self._transition(now, "delinquent", dpd, "not paid by the end of the due date")
        elif self._s.state == "delinquent" and overdue == 0:
            self._transition(now, "cured", dpd, "paid everything overdue: back to Current")
            return

        if self._s.state == "delinquent":
            bucket = self._strategy.bucket_for(dpd)
            stage = self._strategy.stage_for(dpd)
            if bucket != self._s.bucket or stage != self._s.stage:
                self._transition(
                    now,
                    "delinquent",
                    dpd,
                    f"DPD {dpd}: {bucket}, {stage}",
                    bucket=bucket,
                    stage=stage,
                )

        self._reanchor(today, dpd)
        if self._s.anchor is not None and not self._paused(now) and self._in_window(now):
            self._queue_due_steps(now, dpd)
        if self._s.deferred and not self._paused(now):
            self._fire_deferred(now, dpd)

    def _in_window(self, now: datetime) -> bool:
        """Ladder steps act only inside the strategy's contact window, borrower local time."""
        window = self._strategy.contact_window
        local = now.astimezone(zone(self._tz)).time()
        return window.start <= local < window.end

    def _window_opening_after(self, at: datetime) -> datetime:
        """The earliest instant at or after `at` inside the contact window."""
        if self._in_window(at):
            return at
        window = self._strategy.contact_window
        day = local_date(at, self._tz)
        opening = local_instant(day, window.start, self._tz)
        return (
            opening
            if opening > at
            else local_instant(day + timedelta(days=1), window.start, self._tz)
        )

    def _reanchor(self, today: date, dpd: int) -> None:
        """The ladder climbs from the oldest unpaid due date; a new anchor starts a new climb
        from the current DPD so no step fires twice and none below it is replayed."""
        if self._s.state == "pre_due":
            anchor: date | None = self._first_due()
        else:
            anchor = self._s.book.oldest_unpaid_due(today)
        if anchor == self._s.anchor:
            return
        # Only the episode's very first anchor climbs from the bottom of the ladder; any later
        # anchor (a partial payment moved it) climbs on from the current DPD.
        first_climb = self._s.anchor is None
        self._s.floor = min(s.dpd for s in self._treatment) - 1 if first_climb else dpd
        self._s.anchor = anchor

    def _queue_due_steps(self, now: datetime, dpd: int) -> None:
        anchor = self._s.anchor
        assert anchor is not None
        in_pre_due = self._s.state == "pre_due"
        steps = [s for s in self._treatment if (s.dpd <= 0) == in_pre_due]
        due = due_steps(steps, anchor, self._s.floor, self._fired, now, self._slots, self._tz)
        keep, superseded = latest_per_action(due)
        for step in superseded:
            self._fired.add(step_key(anchor, step.id))
        for step in keep:
            self._fired.add(step_key(anchor, step.id))
            if step.when == "not_reached" and self._s.reached:
                continue
            self._fire_step(now, step, dpd)

    def _paused(self, now: datetime) -> bool:
        """An open promise or any hold pauses the ladder; it resumes by itself when they end."""
        return self._s.promise is not None or bool(active_holds(self._s.holds, now))

    def _fire_step(
        self, now: datetime, step: Step, dpd: int, rescheduled_by: str | None = None
    ) -> None:
        """Put a contact through the compliance gate: act now, move it to the earliest allowed
        instant, or drop it — recording a `contact_blocked` action naming the rule."""
        channel = CONTACT_CHANNELS.get(step.action)
        if channel is None or not self._patched(PATCH_GATE):
            self._queue_action(now, step, dpd)
            return
        ledger = self._s.ledger
        assert ledger is not None
        target = choose_target(self._s.account, ledger, channel)
        if target is None and channel in ("sms", "voice", "call"):
            self._block(
                now,
                step,
                channel,
                "number.none_reachable",
                "no live number the channel can reach",
                None,
            )
            return
        decision = earliest_allowed(
            ProposedContact(channel=channel, at=now, target=target),
            ledger,
            self._s.holds,
            self._profile,
            self._context,
        )
        if decision.allowed and (decision.earliest is None or decision.earliest <= now):
            requirements = {k: v for k, v in decision.requirements.items() if k not in SEARCH_NOTES}
            if rescheduled_by:
                requirements["rescheduled_by"] = rescheduled_by
            self._queue_action(now, step, dpd, target=target, requirements=requirements)
            record = sent_record(channel, target, now)
            if record is not None:
                self._s.ledger = ledger.with_record(record)
            return
        rule = str(decision.requirements.get("blocked_by") or decision.rule or "unknown")
        earliest = decision.earliest if decision.allowed else None
        self._block(now, step, channel, rule, decision.reason, earliest)
        if earliest is not None:
            self._s.deferred.append(
                DeferredContact(
                    step_id=step.id, action=step.action, due_at=earliest, blocked_by=rule
                )
            )

    def _block(
        self,
        now: datetime,
        step: Step,
        channel: str,
        rule: str,
        reason: str,
        earliest: datetime | None,
    ) -> None:
        self._record_action(
            now,
            "contact_blocked",
            channel,
            {
                "rule": rule,
                "reason": reason,
                "blocked_action": step.action,
                "step_id_blocked": step.id,
                "profile": self._profile.name,
                "rescheduled_to": earliest.isoformat() if earliest else None,
                "strategy": self._strategy.ref,
            },
        )

    def _fire_deferred(self, now: datetime, dpd: int) -> None:
        due = [d for d in self._s.deferred if d.due_at <= now]
        if not due:
            return
        self._s.deferred = [d for d in self._s.deferred if d.due_at > now]
        steps = {s.id: s for s in self._treatment}
        for item in due:
            step = steps.get(item.step_id)
            if step is not None:
                self._fire_step(now, step, dpd, rescheduled_by=item.blocked_by)

    def _queue_action(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        target: str | None = None,
        requirements: dict[str, object] | None = None,
    ) -> None:
        self._s.action_seq += 1
        window = None
        if step.action in TASK_KINDS:
            window = slot_window(self._today(now), step.slot, self._slots, self._tz)
            if window[1] <= now:
                window = (now, now + timedelta(hours=2))
        overdue = self._s.book.amount_overdue(self._today(now))
        if step.action in TASK_KINDS and self._patched(PATCH_TASKS):
            self._s.open_tasks.append(
                OpenTask(
                    task_id=task_id_for(
                        self._s.account.loan_id, self._s.episode, self._s.action_seq
                    ),
                    kind=TASK_KINDS[step.action],
                    action_seq=self._s.action_seq,
                    not_after=window[1] if window else None,
                    target=target,
                )
            )
        self._pending_actions.append(
            ActionCommand(
                seq=self._s.action_seq,
                at=now,
                kind=step.action,
                channel=step.channel,
                stage=self._s.stage,
                step_id=step.id,
                template=step.template,
                detail={
                    "reason": f"strategy {self._strategy.ref} step {step.id} at DPD {step.dpd}",
                    "dpd": dpd,
                    "bucket": self._s.bucket,
                    "amount_overdue": str(overdue),
                    "currency": self._s.account.currency,
                    "task_kind": TASK_KINDS.get(step.action),
                    "to": target,
                    **(requirements or {}),
                },
                task_window=window,
                priority=overdue,
            )
        )

    def _record_action(
        self, now: datetime, kind: str, channel: str, detail: dict[str, object]
    ) -> None:
        self._s.action_seq += 1
        self._pending_actions.append(
            ActionCommand(
                seq=self._s.action_seq,
                at=now,
                kind=kind,
                channel=channel,
                stage=self._s.stage,
                detail=dict(detail),
            )
        )

    def _transition(
        self,
        now: datetime,
        to_state: str,
        dpd: int,
        reason: str,
        bucket: str | None = None,
        stage: str | None = None,
    ) -> None:
        from_state, from_bucket = self._s.state, self._s.bucket
        if to_state in ("paid_on_time", "cured"):
            bucket, stage = "current", self._s.stage
        bucket = bucket or self._strategy.bucket_for(dpd)
        stage = stage or self._strategy.stage_for(dpd)
        self._s.state, self._s.bucket, self._s.stage = to_state, bucket, stage
        if bucket != from_bucket:
            self._s.path.append(bucket)
        self._s.transition_seq += 1
        self._pending_transitions.append(
            TransitionRecord(
                seq=self._s.transition_seq,
                at=now,
                from_state=from_state,
                to_state=to_state,
                from_bucket=from_bucket,
                to_bucket=bucket,
                dpd=dpd,
                reason=reason,
            )
        )
        self._upsert_search_attributes()

    def _upsert_search_attributes(self, initial: bool = False) -> None:
        pairs: list[SearchAttributeUpdate[str]] = [
            STATE_KEY.value_set(self._s.state),
            BUCKET_KEY.value_set(self._s.bucket),
            STAGE_KEY.value_set(self._s.stage),
        ]
        if initial:
            pairs.append(SEGMENT_KEY.value_set(self._s.account.segment))
        workflow.upsert_search_attributes(pairs)

    def _judge_promise(self, now: datetime, today: date) -> None:
        promise = self._s.promise
        if promise is None:
            return
        rules = self._strategy.promises
        paid = sum((p.amount for p in self._s.book.payments if p.on >= promise.made_on), Decimal(0))
        verdict = judge_promise(promise, paid, today, rules)
        if verdict == "open":
            return
        promise.status, promise.resolved_on, promise.paid_toward = verdict, today, paid
        self._s.promise = None
        self._pending_promises.append(self._promise_view(promise))
        if verdict == "broken":
            self._s.broken_dates.append(today)
            self._record_action(
                now,
                "negative_credit_record",
                "internal",
                {
                    "reason": f"promise {promise.promise_id} broken: paid {paid} of "
                    f"{promise.amount} by {deadline(promise, rules)}",
                    "promise_id": promise.promise_id,
                    "broken_promises": len(self._s.broken_dates),
                },
            )

    def _plan_next(self, now: datetime) -> datetime | None:
        """The next moment that matters; the workflow sleeps until then or a message."""
        candidates: list[tuple[datetime, str]] = []
        today = self._today(now)
        if self._s.state == "pre_due":
            candidates.append(
                (
                    start_of_local_day(self._first_due() + timedelta(days=1), self._tz),
                    "enter_collection_if_unpaid",
                )
            )
        promise = self._s.promise
        if promise is not None:
            end = deadline(promise, self._strategy.promises) + timedelta(days=1)
            candidates.append((start_of_local_day(end, self._tz), "promise_check"))
        if self._s.state == "delinquent" and self._s.anchor is not None:
            dpd = self._s.book.dpd(today)
            boundaries = [
                b
                for b in (
                    self._strategy.bucket_table.next_boundary_after(dpd),
                    self._strategy.stage_table.next_boundary_after(dpd),
                )
                if b is not None
            ]
            if boundaries:
                day = self._s.anchor + timedelta(days=min(boundaries))
                candidates.append((start_of_local_day(day, self._tz), "bucket_change"))
        paused = self._paused(now)
        if self._s.deferred and not paused:
            first = min(self._s.deferred, key=lambda d: d.due_at)
            candidates.append((max(first.due_at, now), first.action))
        hold_ends = [h.until for h in active_holds(self._s.holds, now) if h.until is not None]
        if hold_ends:
            candidates.append((min(hold_ends), "hold_ends"))
        if self._s.anchor is not None and not paused:
            in_pre_due = self._s.state == "pre_due"
            steps = [s for s in self._treatment if (s.dpd <= 0) == in_pre_due]
            upcoming = next_step(
                steps, self._s.anchor, self._s.floor, self._fired, now, self._slots, self._tz
            )
            if upcoming is not None:
                candidates.append((upcoming[1], upcoming[0].action))
            if not self._in_window(now) and due_steps(
                steps, self._s.anchor, self._s.floor, self._fired, now, self._slots, self._tz
            ):
                candidates.append((self._window_opening_after(now), "contact_window_opens"))
        if not candidates:
            self._next = None
            return None
        at, kind = min(candidates, key=lambda c: c[0])
        self._next = NextAction(kind=kind, at=at)
        return at

    # ------------------------------------------------------------------ messages

    @workflow.signal
    async def payment(self, payment: PaymentIn) -> None:
        """A payment from the loan system; the same payment_id counts once."""
        async with self._lock:
            if self._s.state in CLOSED_STATES:
                return
            now = workflow.now()
            today = self._today(now)
            result = self._s.book.apply_payment(payment.payment_id, payment.amount, today)
            if result.new:
                dpd = self._s.book.dpd(today)
                self._pending_payments.append(
                    PaymentRecord(
                        payment_id=payment.payment_id,
                        amount=payment.amount,
                        paid_at=payment.paid_at,
                        dpd=dpd,
                        bucket=self._strategy.bucket_for(dpd),
                    )
                )
                self._wake = True

    @workflow.signal
    async def instalments(self, update: InstalmentsIn) -> None:
        """New or changed instalments: they fall due in turn while the account is open."""
        async with self._lock:
            if self._s.state in CLOSED_STATES:
                return
            self._s.book.add_instalments(update.instalments, self._today())
            self._wake = True

    @workflow.update
    async def promise(self, request: PromiseRequest) -> PromiseView:
        """A promise to pay; the validator refuses bad ones before they enter history."""
        async with self._lock:
            view = self._make_promise(request.promise)
            self._wake = True
            return view

    def _make_promise(self, promised: PromiseIn) -> PromiseView:
        today = self._today()
        self._s.promise_count += 1
        made = Promise(
            promise_id=f"{self._s.account.loan_id}-{self._s.episode[:8]}-P{self._s.promise_count}",
            amount=promised.amount,
            promised_date=promised.promised_date,
            pay_to=promised.pay_to,
            made_on=today,
        )
        self._s.promise = made
        view = self._promise_view(made)
        self._pending_promises.append(view)
        return view

    @promise.validator
    def _validate_promise(self, request: PromiseRequest) -> None:
        self._check_promise(request.promise, request.supervisor_override)

    def _check_promise(self, promised: PromiseIn, supervisor_override: bool) -> None:
        """Raise the ApplicationError the API maps to 409/422 when this promise cannot be made."""
        if self._s.state != "delinquent":
            raise ApplicationError(
                f"A promise can only be recorded on a delinquent account; this one is "
                f"{self._s.state}.",
                type=NOT_ALLOWED,
                non_retryable=True,
            )
        if self._s.promise is not None:
            raise ApplicationError(
                f"Promise {self._s.promise.promise_id} is still open until "
                f"{deadline(self._s.promise, self._strategy.promises)}.",
                type=NOT_ALLOWED,
                non_retryable=True,
            )
        today = self._today()
        rules = self._strategy.promises
        if needs_supervisor(self._s.broken_dates, today, rules) and not supervisor_override:
            raise ApplicationError(
                f"{rules.broken_limit} or more promises were broken in the last "
                f"{rules.broken_window_months} months: a supervisor must record this promise.",
                type=SUPERVISOR_REQUIRED,
                non_retryable=True,
            )
        # The book is accrued only to the last wake-up; judge against today's balance, on a copy
        # (a validator must not change state).
        book = self._s.book.model_copy(deep=True)
        if today > self._first_due():
            book.accrue_to(today)
        errors = validate_promise(
            promised.amount,
            promised.promised_date,
            today,
            book.balance,
            rules,
        )
        if errors:
            raise ApplicationError(
                " ".join(errors), errors, type=INVALID_PROMISE, non_retryable=True
            )

    @workflow.update
    async def task_outcome(self, request: TaskOutcome) -> dict[str, str]:
        """A person's outcome for a task this workflow created; counted once per task id (the
        API also sends it with update id `outcome-{task_id}`, but that dedup ends with the run)."""
        async with self._lock:
            if request.task_id in self._s.done_tasks:
                return {"task_id": request.task_id, "effect": "already recorded"}
            task = self._take_open_task(request.task_id)
            self._s.done_tasks = (self._s.done_tasks + [request.task_id])[-MAX_REMEMBERED_TASKS:]
            effect = self._apply_outcome(task, request)
            self._wake = True
            return {
                "task_id": request.task_id,
                "outcome": request.outcome.outcome,
                "effect": effect,
            }

    @task_outcome.validator
    def _validate_task_outcome(self, request: TaskOutcome) -> None:
        if request.task_id in self._s.done_tasks:
            return
        if self._s.state in CLOSED_STATES:
            raise ApplicationError(
                f"The account is {self._s.state}; its tasks are closed.",
                type=NOT_ALLOWED,
                non_retryable=True,
            )
        task = next((t for t in self._s.open_tasks if t.task_id == request.task_id), None)
        if task is None:
            raise ApplicationError(
                f"Task {request.task_id} is not an open task of this account (it expired, was "
                "cancelled, or never existed).",
                type=TASK_CLOSED,
                non_retryable=True,
            )
        problem = outcome_error(task.kind, request.outcome)
        if problem:
            raise ApplicationError(problem, type=INVALID_OUTCOME, non_retryable=True)
        if request.outcome.outcome == "promise_to_pay" and request.outcome.promise is not None:
            self._check_promise(request.outcome.promise, supervisor_override=False)

    def _take_open_task(self, task_id: str) -> OpenTask:
        task = next(t for t in self._s.open_tasks if t.task_id == task_id)
        self._s.open_tasks = [t for t in self._s.open_tasks if t.task_id != task_id]
        return task

    def _apply_outcome(self, task: OpenTask, request: TaskOutcome) -> str:
        """What the outcome changes in the episode; the branches of PLAYBOOK.md sections 6-12
        hang off this."""
        outcome = request.outcome
        code = outcome.outcome
        now = workflow.now()
        if code not in NOT_REACHED and task.kind in ("call", "field_visit"):
            self._s.reached = True
        ledger = self._s.ledger
        if ledger is not None:
            record = outcome_record(task.kind, code, task.target, now)
            if record is not None:
                ledger = ledger.with_record(record)
            if code in DEAD and task.target:
                ledger = ledger.with_dead_number(task.target)
            self._s.ledger = ledger
        if code in ("deceased_reported", "bankruptcy_reported"):
            kind = "deceased" if code == "deceased_reported" else "bankruptcy"
            self._s.holds.append(
                Hold(kind=kind, since=now, detail={"reported_by": request.recorded_by})
            )
            self._cancel_tasks(now, kind)
            return f"{kind} hold"
        if code == "promise_to_pay" and outcome.promise is not None:
            view = self._make_promise(outcome.promise)
            return f"promise {view.promise_id} recorded"
        return f"{code} recorded"

    def _expire_tasks(self, now: datetime) -> None:
        """Tasks whose window has passed are closed here, so no queue holds stale work."""
        expired = [t for t in self._s.open_tasks if t.not_after is not None and t.not_after <= now]
        if not expired:
            return
        self._s.open_tasks = [t for t in self._s.open_tasks if t not in expired]
        for task in expired:
            self._pending_task_updates.append(
                TaskUpdate(
                    task_id=task.task_id,
                    status="expired",
                    at=now,
                    reason=f"the {task.kind} task's window ended at {task.not_after}",
                )
            )

    # ------------------------------------------------------------------ holds and contact facts

    @workflow.update
    async def add_hold(self, request: HoldRequest) -> HoldView:
        """A hold stops what its kind forbids at once; it stacks with the others."""
        async with self._lock:
            now = workflow.now()
            until = None
            if request.kind == "complaint":
                until = now + timedelta(days=self._strategy.holds.complaint_days)
            detail = {
                k: v
                for k, v in {
                    "reason": request.reason,
                    "notes": request.notes,
                    "reported_by": request.reported_by,
                    "attorney_phone": request.attorney_phone,
                }.items()
                if v
            }
            hold = Hold(kind=request.kind, since=now, until=until, detail=detail)
            self._s.holds.append(hold)
            self._cancel_tasks(now, request.kind)
            if request.kind == "bankruptcy":
                self._s.deferred = []
            self._wake = True
            return HoldView(kind=hold.kind, since=hold.since, until=hold.until)

    @add_hold.validator
    def _validate_add_hold(self, request: HoldRequest) -> None:
        self._require_open("record a hold")

    @workflow.update
    async def release_hold(self, release: HoldRelease) -> HoldView:
        """Ends the open holds of this kind; collection resumes when the last hold ends."""
        async with self._lock:
            now = workflow.now()
            ended: Hold | None = None
            holds = []
            for hold in self._s.holds:
                if hold.kind == release.kind and hold.active_at(now):
                    hold = hold.ended(now)
                    ended = hold
                holds.append(hold)
            self._s.holds = holds
            self._wake = True
            assert ended is not None
            return HoldView(kind=ended.kind, since=ended.since, until=ended.until)

    @release_hold.validator
    def _validate_release_hold(self, release: HoldRelease) -> None:
        self._require_open("release a hold")
        if not any(h.kind == release.kind and h.active_at(workflow.now()) for h in self._s.holds):
            raise ApplicationError(
                f"The account has no open {release.kind} hold to release.",
                type=NO_SUCH_HOLD,
                non_retryable=True,
            )

    @workflow.update
    async def contact_info(self, request: ContactInfoRequest) -> dict[str, object]:
        """New numbers join the rotation, dead ones leave it, consents change at once."""
        async with self._lock:
            info = request.info
            ledger = self._s.ledger
            assert ledger is not None
            borrower = self._s.account.borrower
            known = {p.number for p in borrower.phones}
            added = [p for p in info.phones if p.number not in known]
            phones = list(borrower.phones) + added
            for number in info.dead_phones:
                ledger = ledger.with_dead_number(number)
            for channel, granted in info.consents.items():
                ledger = ledger.with_consent(channel, granted)
            for phone in added:
                ledger = ledger.without_dead_number(phone.number)
            address = info.address if info.address else borrower.address
            self._s.account = self._s.account.model_copy(
                update={
                    "borrower": borrower.model_copy(update={"phones": phones, "address": address})
                }
            )
            self._context = context_of(self._s.account, self._strategy)
            self._s.ledger = ledger
            self._wake = True
            return {
                "phones_added": len(added),
                "dead_numbers": len(info.dead_phones),
                "consents": dict(info.consents),
            }

    @contact_info.validator
    def _validate_contact_info(self, request: ContactInfoRequest) -> None:
        self._require_open("change contact details")

    @workflow.signal
    async def contact_event(self, event: ContactEvent) -> None:
        """Facts from the channels (delivery callbacks, inbound replies)."""
        async with self._lock:
            if self._s.state in CLOSED_STATES or self._s.ledger is None:
                return
            ledger = self._s.ledger
            number = event.number
            if event.kind == "consent_revoked":
                ledger = (
                    ledger.with_consent("sms", False, number)
                    if number and event.channel == "sms"
                    else ledger.with_consent(event.channel, False)
                )
            elif event.kind == "consent_restored":
                ledger = (
                    ledger.with_consent("sms", True, number)
                    if number and event.channel == "sms"
                    else ledger.with_consent(event.channel, True)
                )
            elif event.kind == "number_dead" and number:
                ledger = ledger.with_dead_number(number)
            elif event.kind == "inbound_reply":
                self._s.reached = True
            self._s.ledger = ledger
            self._wake = True

    def _require_open(self, what: str) -> None:
        if self._s.state in CLOSED_STATES:
            raise ApplicationError(
                f"The account is {self._s.state}; cannot {what}.",
                type=NOT_ALLOWED,
                non_retryable=True,
            )

    def _cancel_tasks(self, now: datetime, hold_kind: str) -> None:
        kinds = CANCELS_TASKS.get(hold_kind, frozenset())
        cancelled = [t for t in self._s.open_tasks if t.kind in kinds]
        if not cancelled:
            return
        self._s.open_tasks = [t for t in self._s.open_tasks if t not in cancelled]
        for task in cancelled:
            self._pending_task_updates.append(
                TaskUpdate(
                    task_id=task.task_id,
                    status="cancelled",
                    at=now,
                    reason=f"{hold_kind} hold: {task.kind} tasks stop",
                )
            )

    def _patched(self, patch_id: str) -> bool:
        """`workflow.patched`, asked once per run (its answer must not change within a run)."""
        if patch_id not in self._patches:
            self._patches[patch_id] = workflow.patched(patch_id)
        return self._patches[patch_id]

    @workflow.query
    def status(self, as_of: datetime | None = None) -> AccountStatus:
        """The account as of the caller's business time (a query runs at the time of the last
        workflow task, which may be days old while the workflow sleeps); never earlier than the
        workflow's own clock."""
        now = workflow.now() if as_of is None else max(as_of, workflow.now())
        today = self._today(now)
        book = self._s.book
        # A query must not change state: accrue on a copy to show today's figures.
        view = book.model_copy(deep=True)
        if self._s.state not in CLOSED_STATES and today > self._first_due():
            view.accrue_to(today)
        dpd = view.dpd(today) if self._s.state not in CLOSED_STATES else 0
        promise = self._s.promise
        return AccountStatus(
            loan_id=self._s.account.loan_id,
            state=self._s.state,
            dpd=dpd,
            bucket=self._s.bucket
            if self._s.state != "delinquent"
            else self._strategy.bucket_for(dpd),
            stage=self._s.stage if self._s.state != "delinquent" else self._strategy.stage_for(dpd),
            amount_overdue=view.amount_overdue(today),
            penalty_accrued=view.penalty_accrued_total,
            promise=self._promise_view(promise) if promise else None,
            broken_promises=len(self._s.broken_dates),
            holds=[
                HoldView(kind=h.kind, since=h.since, until=h.until)
                for h in active_holds(self._s.holds, now)
            ],
            next_action=None if self._s.state in CLOSED_STATES else self._next,
            strategy=StrategyRef(name=self._strategy.name, version=self._strategy.version),
            currency=self._s.account.currency,
            paid_total=view.paid_total,
            balance=view.balance,
            path=list(self._s.path),
            as_of=now,
        )

    def _promise_view(self, promise: Promise) -> PromiseView:
        return PromiseView(
            promise_id=promise.promise_id,
            amount=promise.amount,
            promised_date=promise.promised_date,
            pay_to=promise.pay_to,
            status=promise.status,
            made_at=start_of_local_day(promise.made_on, self._tz),
            deadline=deadline(promise, self._strategy.promises),
        )
