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
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.account import PromiseIn
    from domain.book import LoanBook
    from domain.calendar import local_date, local_instant, start_of_local_day, zone
    from domain.contact import (
        TEMPORARY_FAILURES_BEFORE_NO_SMS,
        VERDICT_RULES,
        ContactRecord,
        Decision,
        Hold,
        ProposedContact,
        active_holds,
        allowed_until,
        delivery_verdict,
        earliest_allowed,
        verdict_reason,
    )
    from domain.money import quantize
    from domain.outcomes import ContactInfo, HardshipIn, outcome_error
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
        validate_plan,
        validate_promise,
    )
    from domain.restructure import eligible
    from domain.strategy import Step, Strategy
    from workflows.branches import (
        BRANCH_STEPS,
        RIGHT_PARTY_OUTCOMES,
        learned_window,
        live_numbers,
        next_slot_window,
        rotate_call_target,
        slot_of,
    )
    from workflows.contact_gate import (
        CONTACT_CHANNELS,
        DEAD,
        NOT_REACHED,
        UNANSWERED,
        agency_record,
        choose_target,
        context_of,
        conversation_record,
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
        AgencyContactsRequest,
        AgencyRecallRequest,
        ChildTaskOutcome,
        ContactEvent,
        ContactInfoRequest,
        HardshipRequest,
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
        ReassignRequest,
        RestructureAnswer,
        RestructureInput,
        StrategyRef,
        SubflowEvent,
        TaskOutcome,
        TaskUpdate,
        TransitionRecord,
        WriteOffInput,
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
# How long a closing episode waits for a cancelled subflow to end before ending anyway.
CHILD_CLOSE_TIMEOUT = timedelta(minutes=10)
NO_PLACEMENT = "NoPlacement"  # 409
# Placements and legal cases end with the episode; these are the reasons the records show.
PAID_IN_FULL = "paid in full"
NO_SUCH_HOLD = "NoSuchHold"  # 409
NO_OPEN_OFFER = "NoOpenOffer"  # 409
# What `earliest_allowed` notes about its search, as opposed to obligations of the contact.
SEARCH_NOTES = frozenset({"blocked_by", "blocked_chain", "not_before"})
# Holds after which the borrower's open work is cancelled: nobody may call or visit them.
CANCELS_TASKS: dict[str, frozenset[str]] = {
    "bankruptcy": frozenset({"call", "field_visit", "skip_trace"}),
    "deceased": frozenset({"call", "field_visit"}),
    "cease_communication": frozenset({"call", "field_visit"}),
    "attorney": frozenset({"call", "field_visit"}),
    # An accepted restructure plan ends the collection work (the subflow watches the plan).
    "restructured": frozenset({"call", "field_visit", "skip_trace"}),
}
# Holds that pause collection: a call or visit would be a collection contact while they last,
# so open work is cancelled and the ladder issues new work when the last hold ends.
PAUSING_HOLDS_CANCEL: dict[str, frozenset[str]] = {
    "dispute": frozenset({"call", "field_visit"}),
    "complaint": frozenset({"call", "field_visit"}),
    "grace": frozenset({"call", "field_visit"}),
}
# Holds under which no restructure offer may be made: nobody may be offered anything while the
# stay runs or after death, and a represented borrower or one who asked us to cease is not
# written to (the hardship is refused with 409 instead of being silently parked).
NO_OFFER_HOLDS = frozenset({"bankruptcy", "deceased", "attorney", "cease_communication"})
# The offer letters the subflows ask for, and the parties they go to. The settlement offer after
# a death goes to the estate's representatives, who answer for the estate's debts; the contact
# rules know them as `guarantor` (not the borrower, not an unrelated third party).
OFFER_LETTERS: dict[str, str] = {"restructure_offer": "borrower", "settlement_offer": "guarantor"}
# Holds the placed agency must respect too: it is told to stop collecting while they last
# (bankruptcy and death recall the account instead).
AGENCY_NOTICE_HOLDS = frozenset({"dispute", "complaint", "cease_communication", "attorney"})
# Agency contacts already in the ledger, remembered so a re-sent daily file counts once.
MAX_REMEMBERED_AGENCY_CONTACTS = 2000
# Fallback length of a task window when no slot is left today or the task was rescheduled.
TASK_WINDOW = timedelta(hours=2)

MAX_REMEMBERED_REQUEST_IDS = 200


def _hold_key(hold: Hold) -> str:
    """A hold's identity across runs: its kind and the instant it started."""
    return f"{hold.kind}@{hold.since.isoformat()}"


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
        # Side effects decided in handlers, carried out by the main loop (they await).
        self._pending_children: list[str] = []
        self._pending_signals: list[tuple[str, str, object]] = []
        self._child_handles: dict[str, workflow.ChildWorkflowHandle[Any, Any]] = {}
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
            # Cleared before acting, not before sleeping: a message that arrives while this
            # turn awaits an activity must wake the next turn at once.
            self._wake = False
            async with self._lock:
                stage_before = self._s.stage
                self._advance(now)
            if self._has_pending():
                await self._flush(now)
            cancelled: list[str] = []
            if self._s.state in CLOSED_STATES:
                # The episode is over: a subflow still running has nothing left to decide.
                for child in (self._s.restructure_child, self._s.write_off_child):
                    if child is not None:
                        self._pending_signals.append((child, "cancel", None))
                        cancelled.append(child)
                self._s.restructure_child = self._s.write_off_child = None
            await self._run_subflow_commands(now)
            if self._s.state in CLOSED_STATES:
                await self._await_children(cancelled)
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
        if self._s.restructure_child or self._s.write_off_child:
            # Not while a subflow runs: it reports by signal, and a signal to a chain that
            # moved on mid-conversation stalls the time-skipping test server. Subflows are
            # short next to an episode, and are abandoned (not terminated) should one overlap.
            return False
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
        if not isinstance(result, dict):
            return
        self._learn_agency_and_legal(sent, result.get("deliveries") or [])
        if self._s.ledger is None:
            return
        targets = {a.seq: a.detail.get("to") for a in sent}
        failed = [
            d
            for d in result.get("deliveries") or []
            if d.get("status") == "failed" and targets.get(d.get("seq"))
        ]
        if not failed:
            return
        now = workflow.now()
        for delivery in failed:
            code = delivery.get("error_code")
            self._learn_delivery_failure(
                now,
                str(delivery.get("channel") or "sms"),
                str(targets[delivery.get("seq")]),
                int(code) if code is not None else None,
                source="provider refusal",
                detail={"failed_seq": delivery.get("seq"), "failed_kind": delivery.get("kind")},
            )
        self._wake = True  # the verdicts are actions: flush them on the next turn

    def _learn_delivery_failure(
        self,
        now: datetime,
        channel: str,
        number: str,
        error_code: int | None,
        *,
        said_dead: bool = False,
        source: str,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Judge one failed delivery by the policy of `domain.contact.delivery` (dead number,
        no SMS, unsubscribed, or temporary: three undelivered texts in a row mean no SMS), put
        the verdict in the ledger the gate reads, and record it as a `delivery_failure` action
        so the timeline shows why a later text went elsewhere or was refused."""
        ledger = self._s.ledger
        assert ledger is not None
        verdict = delivery_verdict(channel, error_code, said_dead=said_dead)
        in_a_row = 0
        if verdict == "dead":
            ledger = ledger.with_dead_number(number)
        elif verdict == "no_sms":
            ledger = ledger.with_no_sms_number(number)
        elif verdict == "unsubscribed":
            ledger = ledger.with_consent("sms", False, number)
        elif verdict == "temporary" and ledger.sms_capable(number):
            ledger = ledger.with_undelivered_sms(number)
            in_a_row = ledger.undelivered_sms_to(number)
            if in_a_row >= TEMPORARY_FAILURES_BEFORE_NO_SMS:
                ledger, verdict = ledger.with_no_sms_number(number), "no_sms"
        self._s.ledger = ledger
        self._record_action(
            now,
            "delivery_failure",
            "internal",
            {
                **(detail or {}),
                "to": number,
                "failed_channel": channel,
                "error_code": error_code,
                "verdict": verdict,
                "rule": VERDICT_RULES.get(verdict),
                "undelivered_in_a_row": in_a_row or None,
                "source": source,
                "reason": verdict_reason(verdict, error_code, in_a_row),
            },
        )

    def _learn_agency_and_legal(
        self, sent: list[ActionCommand], deliveries: list[dict[str, Any]]
    ) -> None:
        """The agency a placement went to, and the legal case an action opened or closed, are
        facts the store decided; the workflow learns them from the delivery results (issue 5:
        recall at the end of the period, commission on payments, a case ended by payment)."""
        if not any(
            d.get("kind") in ("oca_placement", "lawsuit", "asset_preservation") for d in deliveries
        ):
            return
        commands = {a.seq: a for a in sent}
        now = workflow.now()
        for delivery in deliveries:
            kind, detail = delivery.get("kind"), delivery.get("detail") or {}
            command = commands.get(int(delivery.get("seq") or 0))
            if kind == "oca_placement" and delivery.get("status") == "sent":
                agency_id = str(detail.get("agency_id"))
                self._s.placement = {
                    "placement_id": str(delivery.get("provider_id")),
                    "agency_id": agency_id,
                    "agency": str(detail.get("agency")),
                    "commission_rate": str(detail.get("commission_rate")),
                    "period_end": str(detail.get("period_end")),
                }
                if agency_id not in self._s.placed_agencies:
                    self._s.placed_agencies.append(agency_id)
            elif kind == "oca_placement" and command and command.detail.get("exclude_agencies"):
                # No other agency could take it: the account goes to legal instead.
                self._send_to_legal(now, "no secondary agency had room")
            elif kind in ("lawsuit", "asset_preservation") and delivery.get("status") == "sent":
                closed = detail.get("case_status") == "closed"
                self._s.legal_case = None if closed else str(detail.get("case_id"))
        if self._pending_actions:
            self._wake = True  # what was learned queued work: flush it on the next turn

    def _placement_end(self) -> datetime | None:
        placement = self._s.placement
        return datetime.fromisoformat(placement["period_end"]) if placement else None

    def _advance_placement(self, now: datetime) -> None:
        end = self._placement_end()
        if end is not None and now >= end:
            self._recall_agency(now, "placement period ended", replace=not self._paused(now))

    def _recall_agency(self, now: datetime, reason: str, replace: bool) -> None:
        """Take the account back from its agency; then, when `replace`, the next agency tries
        (up to the strategy's max_placements), and after the last one the account goes to
        legal (issue 5, agency lifecycle)."""
        placement = self._s.placement
        if placement is None:
            return
        self._s.placement = None
        dpd = self._s.book.dpd(self._today(now))
        self._queue_action(
            now,
            BRANCH_STEPS["branch.oca_recall"],
            dpd,
            extra={
                "reason": f"recalled from {placement['agency']}: {reason}",
                "recall_reason": reason,
                "placement_id": placement["placement_id"],
                "agency_id": placement["agency_id"],
            },
        )
        if not replace:
            return
        policy = self._strategy.branches.agency
        if len(self._s.placed_agencies) < policy.max_placements:
            self._queue_action(
                now,
                BRANCH_STEPS["branch.oca_secondary"],
                dpd,
                extra={
                    "reason": f"re-placed with a secondary agency after {reason}",
                    "exclude_agencies": list(self._s.placed_agencies),
                },
            )
        else:
            self._send_to_legal(now, f"{len(self._s.placed_agencies)} agencies tried")

    def _send_to_legal(self, now: datetime, why: str) -> None:
        if self._s.legal_case is not None or self._s.state != "delinquent":
            return
        dpd = self._s.book.dpd(self._today(now))
        self._queue_action(
            now,
            BRANCH_STEPS["branch.legal_after_agency"],
            dpd,
            extra={"reason": f"sent to legal: {why}"},
        )

    def _end_external_work(self, now: datetime, why: str) -> None:
        """An episode that ends takes the account back from its agency and ends its legal case
        (a payment in full ends the case)."""
        self._recall_agency(now, why, replace=False)
        if self._s.legal_case is not None:
            dpd = self._s.book.dpd(self._today(now))
            self._queue_action(
                now,
                BRANCH_STEPS["branch.case_closure"],
                dpd,
                extra={"reason": f"legal case ended: {why}", "case_id": self._s.legal_case},
            )

    def _tell_agency(self, now: datetime, kind: str, hold: Hold, since: datetime) -> None:
        """An `oca_hold_notice` / `oca_resume_notice` to the agency the account is placed with
        (the agency channel records it for the agency's daily file). A hold that pauses our
        collection pauses the agency's: a dispute, complaint, cease request or attorney binds
        whoever collects the debt."""
        placement = self._s.placement
        assert placement is not None
        still = sorted(
            {
                h.kind
                for h in active_holds(self._s.holds, now)
                if h.kind in AGENCY_NOTICE_HOLDS and _hold_key(h) != _hold_key(hold)
            }
        )
        stop = kind == "oca_hold_notice"
        self._record_action(
            now,
            kind,
            "agency",
            {
                "reason": (
                    f"{placement['agency']} told to stop collecting: {hold.kind} hold"
                    if stop
                    else f"{placement['agency']} told the {hold.kind} hold has ended"
                    + (f" (still on hold: {', '.join(still)})" if still else "")
                ),
                "hold": hold.kind,
                "hold_since": since.isoformat(),
                "hold_until": hold.until.isoformat() if hold.until else None,
                "placement_id": placement["placement_id"],
                "agency_id": placement["agency_id"],
                "agency": placement["agency"],
                "still_on_hold": still,
                "may_resume": None if stop else not still,
            },
        )

    def _tell_agency_holds_ended(self, now: datetime) -> None:
        """The holds the agency was told to stop for and that have ended since (released, or
        a complaint's days run out) each send an `oca_resume_notice`; a recalled account has
        nothing to resume."""
        active = {_hold_key(h): h for h in active_holds(self._s.holds, now)}
        notices = self._s.agency_hold_notices
        ended = [key for key in notices if key not in active]
        if not ended:
            return
        self._s.agency_hold_notices = [key for key in notices if key in active]
        if self._s.placement is None:
            return
        holds = {_hold_key(h): h for h in self._s.holds}
        for key in ended:
            hold = holds.get(key)
            if hold is not None:
                self._tell_agency(now, "oca_resume_notice", hold, hold.since)

    # ------------------------------------------------------------------ deciding

    def _advance(self, now: datetime) -> None:
        """Bring the state up to `now`: accrue, judge the promise, move state and bucket, and
        queue the ladder steps whose moment has come."""
        today = self._today(now)
        book = self._s.book
        if today > self._first_due():
            book.accrue_to(today)
        self._judge_promise(now, today)
        self._expire_tasks(now)
        dpd = book.dpd(today)
        overdue = book.amount_overdue(today)

        if self._s.state == "pre_due":
            if today > self._first_due():
                if overdue == 0:
                    self._transition(now, "paid_on_time", dpd, "paid by the end of the due date")
                    return
                self._transition(now, "delinquent", dpd, "not paid by the end of the due date")
                if not self._s.account.history.ever_paid:
                    # Section 12: a loan never paid since it was made is a skip from day 1.
                    self._enter_skip(now, dpd, "never paid since the loan was made")
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

        self._advance_placement(now)
        if self._s.agency_hold_notices:
            self._tell_agency_holds_ended(now)
        self._reanchor(today, dpd)
        paused = self._paused(now)
        calls_only = paused and self._attorney_only(now)
        if self._s.anchor is not None and (not paused or calls_only) and self._in_window(now):
            self._queue_due_steps(now, dpd, calls_only=calls_only)
        if self._s.deferred and (not paused or calls_only):
            self._fire_deferred(now, dpd, calls_only=calls_only)
        if self._s.skip_since is not None and not self._paused(now):
            self._advance_skip(now, dpd)

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

    def _queue_due_steps(self, now: datetime, dpd: int, *, calls_only: bool = False) -> None:
        anchor = self._s.anchor
        assert anchor is not None
        steps = self._ladder(calls_only)
        due = due_steps(steps, anchor, self._s.floor, self._fired, now, self._slots, self._tz)
        keep, superseded = latest_per_action(due)
        for step in superseded:
            self._fired.add(step_key(anchor, step.id))
        for step in keep:
            self._fired.add(step_key(anchor, step.id))
            if step.when == "not_reached" and self._s.reached:
                continue
            self._fire_step(now, step, dpd)

    def _ladder(self, calls_only: bool) -> list[Step]:
        """The ladder's steps for the current phase (pre-due or collection); only its call steps
        while the attorney is the one called (the rest wait, as under any hold, for the release)."""
        in_pre_due = self._s.state == "pre_due"
        steps = [s for s in self._treatment if (s.dpd <= 0) == in_pre_due]
        return [s for s in steps if s.action == "call_task"] if calls_only else steps

    def _attorney_phone(self, now: datetime) -> str | None:
        """The number of the attorney representing the borrower, while an attorney hold that
        names one is active (the latest named); None otherwise or before the patch."""
        phones = [
            h.detail["attorney_phone"]
            for h in active_holds(self._s.holds, now)
            if h.kind == "attorney" and h.detail.get("attorney_phone")
        ]
        if not phones:
            return None
        return phones[-1]

    def _attorney_only(self, now: datetime) -> bool:
        """Collection goes on through the attorney: the ladder is paused by attorney holds alone
        and one of them names the attorney's number. Every other hold (and an open promise or
        a restructure) still pauses everything."""
        held = active_holds(self._s.holds, now)
        return (
            self._s.promise is None
            and self._s.state != "restructured"
            and bool(held)
            and all(h.kind == "attorney" for h in held)
            and self._attorney_phone(now) is not None
        )

    def _paused(self, now: datetime) -> bool:
        """An open promise or any hold pauses the ladder; it resumes by itself when they end."""
        return (
            self._s.promise is not None
            or self._s.state == "restructured"
            or bool(active_holds(self._s.holds, now))
        )

    def _fire_step(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        rescheduled_by: str | None = None,
        *,
        window: tuple[datetime, datetime] | None = None,
        target: str | None = None,
        party: str = "borrower",
        purpose: str = "collect",
        detail: dict[str, object] | None = None,
    ) -> None:
        """Put a contact through the compliance gate: act now, move it to the earliest allowed
        instant, or drop it — recording a `contact_blocked` action naming the rule. Work for a
        person (a call, a visit) is not held back: its task window starts at the earliest
        allowed instant instead."""
        channel = CONTACT_CHANNELS.get(step.action)
        if channel is None:
            self._queue_action(now, step, dpd, window=window, extra=detail)
            return
        ledger = self._s.ledger
        assert ledger is not None
        attorney = self._attorney_phone(now) if channel == "call" else None
        if attorney is not None and (target is None or target == attorney):
            # The borrower is represented: the collector calls their attorney (the gate allows
            # party `attorney` under the hold, and still applies the profile's window and caps).
            target, party = attorney, "attorney"
            detail = {
                "represented": "the borrower is represented: call the attorney",
                **(detail or {}),
            }
        if target is None:
            target = (
                rotate_call_target(self._s.account, ledger)
                if channel in ("call", "voice")
                else choose_target(self._s.account, ledger, channel)
            )
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
        whole_window = step.action in TASK_KINDS
        if whole_window and window is None and rescheduled_by:
            # A moved task is worked from the instant it was moved to, not at today's slot
            # (which may lie in a period the rules forbid, and would move it again).
            window = (now, now + TASK_WINDOW)
        if window is None and step.action == "call_task":
            window = learned_window(self._s.rpc_hours, self._today(now), self._tz)
            if window is not None and window[1] <= now:
                window = None
        if whole_window:
            window = self._task_window(now, step, window)
        at = max(window[0], now) if window else now
        proposal = ProposedContact(
            channel=channel, at=at, target=target, party=party, purpose=purpose
        )
        decision = earliest_allowed(
            proposal,
            ledger,
            self._s.holds,
            self._profile,
            self._context,
        )
        requirements = {k: v for k, v in decision.requirements.items() if k not in SEARCH_NOTES}
        if rescheduled_by:
            requirements["rescheduled_by"] = rescheduled_by
        extra = {**(detail or {}), **requirements}
        if party != "borrower":
            extra.update(party=party, purpose=purpose)
        if whole_window:
            assert window is not None
            self._issue_task(now, step, dpd, proposal, window, decision, extra)
            return
        if decision.allowed and (decision.earliest is None or decision.earliest <= at):
            self._queue_action(now, step, dpd, target=target, window=window, extra=extra)
            record = sent_record(channel, target, now)
            if record is not None:
                self._s.ledger = ledger.with_record(record)
            return
        rule = str(decision.requirements.get("blocked_by") or decision.rule or "unknown")
        earliest = decision.earliest if decision.allowed else None
        self._block(now, step, channel, rule, decision.reason, earliest)
        if earliest is None:
            return
        if step.action in TASK_KINDS and step.id.startswith("branch."):
            length = (window[1] - window[0]) if window else timedelta(hours=2)
            extra["rescheduled_by"] = rule
            self._queue_action(
                now, step, dpd, target=target, window=(earliest, earliest + length), extra=extra
            )
            return
        self._s.deferred.append(
            DeferredContact(step_id=step.id, action=step.action, due_at=earliest, blocked_by=rule)
        )

    def _task_window(
        self, now: datetime, step: Step, window: tuple[datetime, datetime] | None
    ) -> tuple[datetime, datetime]:
        """The window a person may work the task in, before the gate sees it: the one given,
        else today's preferred slot, else the next two hours; never one already over."""
        if window is None:
            window = slot_window(self._today(now), step.slot, self._slots, self._tz)
        if window[1] <= now:
            window = (now, now + TASK_WINDOW)
        return window

    def _allowed_until(self, proposal: ProposedContact, at: datetime) -> datetime | None:
        """Where the allowed period that holds `proposal` at `at` ends."""
        return allowed_until(
            proposal.model_copy(update={"at": at}),
            self._s.holds,
            self._profile,
            self._context,
        )

    def _issue_task(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        proposal: ProposedContact,
        window: tuple[datetime, datetime],
        decision: Decision,
        extra: dict[str, object],
    ) -> None:
        """Issue work for a person only for a window the rules allow as a whole: it starts at
        the earliest allowed instant and ends where the allowed period ends (a window closing
        in any of the borrower's zones, a holiday, a hold). What is left of the window when the
        start is refused beyond it moves to the earliest allowed instant (branch work) or waits
        there (ladder steps), recorded as `contact_blocked`."""
        at = max(window[0], now)
        channel = proposal.channel
        earliest = decision.earliest if decision.allowed else None
        rule = str(decision.requirements.get("blocked_by") or decision.rule or "unknown")
        if earliest is not None and earliest < window[1]:
            until = self._allowed_until(proposal, earliest)
            end = window[1] if until is None else min(window[1], until)
            if end > earliest:
                if earliest > at:
                    self._block(now, step, channel, rule, decision.reason, earliest)
                    extra["rescheduled_by"] = rule
                start = earliest if earliest > at else window[0]
                self._queue_task(now, step, dpd, proposal, (start, end), extra)
                return
        self._block(now, step, channel, rule, decision.reason, earliest)
        if earliest is None:
            return
        if step.id.startswith("branch."):
            until = self._allowed_until(proposal, earliest)
            end = earliest + (window[1] - window[0])
            end = end if until is None else min(end, until)
            extra["rescheduled_by"] = rule
            self._queue_task(now, step, dpd, proposal, (earliest, end), extra)
            return
        self._s.deferred.append(
            DeferredContact(step_id=step.id, action=step.action, due_at=earliest, blocked_by=rule)
        )

    def _queue_task(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        proposal: ProposedContact,
        window: tuple[datetime, datetime],
        extra: dict[str, object],
    ) -> None:
        """Queue the task; a call it may bring counts against the caps from its `not_before`
        until its outcome replaces it, or it expires or is cancelled."""
        target = proposal.target
        self._queue_action(now, step, dpd, target=target, window=window, extra=extra)
        if proposal.channel != "call" or target is None:
            return
        ledger = self._s.ledger
        assert ledger is not None
        task_id = task_id_for(self._s.account.loan_id, self._s.episode, self._s.action_seq)
        self._s.ledger = ledger.with_record(
            ContactRecord.model_validate(
                {
                    "at": window[0],
                    "channel": "call",
                    "target": target,
                    "party": proposal.party,
                    "purpose": proposal.purpose,
                    "result": "unanswered",
                    "pending_task": task_id,
                }
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
        self._record_blocked(now, step.action, step.id, channel, rule, reason, earliest)

    def _record_blocked(
        self,
        now: datetime,
        action: str,
        step_id: str,
        channel: str,
        rule: str,
        reason: str,
        earliest: datetime | None,
    ) -> None:
        """A `contact_blocked` action. Besides the rule and the instant it moved the contact to,
        it carries where the account stood (dpd, bucket, amount overdue) so the timeline can say
        what was held back at which point of the episode."""
        today = self._today(now)
        self._record_action(
            now,
            "contact_blocked",
            channel,
            {
                "rule": rule,
                "reason": reason,
                "blocked_action": action,
                "step_id_blocked": step_id,
                "profile": self._profile.name,
                "rescheduled_to": earliest.isoformat() if earliest else None,
                "strategy": self._strategy.ref,
                "dpd": self._s.book.dpd(today),
                "bucket": self._s.bucket,
                "amount_overdue": str(self._s.book.amount_overdue(today)),
                "currency": self._s.account.currency,
            },
        )

    def _fire_deferred(self, now: datetime, dpd: int, *, calls_only: bool = False) -> None:
        due = [
            d
            for d in self._s.deferred
            if d.due_at <= now and (not calls_only or d.action == "call_task")
        ]
        if not due:
            return
        self._s.deferred = [d for d in self._s.deferred if d not in due]
        steps = {**BRANCH_STEPS, **{s.id: s for s in self._treatment}}
        for item in due:
            if item.action in OFFER_LETTERS:
                self._send_offer(now, item.action, dict(item.detail or {}), item.blocked_by)
                continue
            step = steps.get(item.step_id)
            if step is not None:
                self._fire_step(now, step, dpd, rescheduled_by=item.blocked_by)

    def _queue_action(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        target: str | None = None,
        window: tuple[datetime, datetime] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self._s.action_seq += 1
        if step.action in TASK_KINDS and window is None:
            window = slot_window(self._today(now), step.slot, self._slots, self._tz)
            if window[1] <= now:
                window = (now, now + timedelta(hours=2))
        if step.action not in TASK_KINDS:
            window = None
        overdue = self._s.book.amount_overdue(self._today(now))
        if step.action in TASK_KINDS:
            self._s.open_tasks.append(
                OpenTask(
                    task_id=task_id_for(
                        self._s.account.loan_id, self._s.episode, self._s.action_seq
                    ),
                    kind=TASK_KINDS[step.action],
                    action_seq=self._s.action_seq,
                    not_after=window[1] if window else None,
                    target=target,
                    slot=slot_of(window[0], self._slots, self._tz) if window else None,
                    party=str((extra or {}).get("party") or "borrower"),
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
                    "reason": (extra or {}).get(
                        "reason", f"strategy {self._strategy.ref} step {step.id} at DPD {step.dpd}"
                    ),
                    "dpd": dpd,
                    "bucket": self._s.bucket,
                    "amount_overdue": str(overdue),
                    "currency": self._s.account.currency,
                    "task_kind": TASK_KINDS.get(step.action),
                    "to": target,
                    # Section 10: the collector the borrower complained about never gets it.
                    "never_to": list(self._s.never_assign) or None,
                    **(extra or {}),
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

    def _record_hold(self, now: datetime, kind: str, hold: Hold, detail: dict[str, str]) -> None:
        """A hold placed or released is an action (kind, since, until, who, why), so the store
        can tell an auditor about it after Temporal's retention has dropped the history."""
        self._record_action(
            now,
            kind,
            "internal",
            {
                **{k: v for k, v in detail.items() if v},
                "hold": hold.kind,
                "since": hold.since.isoformat(),
                "until": hold.until.isoformat() if hold.until else None,
            },
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
        if to_state in CLOSED_STATES and from_state not in CLOSED_STATES:
            self._end_external_work(
                now, PAID_IN_FULL if to_state in ("cured", "closed", "paid_on_time") else reason
            )
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
        paid -= promise.credited_before
        verdict = judge_promise(promise, paid, today, rules)
        if verdict == "open":
            return
        promise.status, promise.resolved_on, promise.paid_toward = verdict, today, paid
        self._s.promise = None
        self._pending_promises.append(self._promise_view(promise))
        if verdict == "kept" and self._s.promise_plan:
            # Section 9, payment plan: the next promise of the series becomes the open one.
            following = self._s.promise_plan.pop(0)
            self._make_promise(following)
            assert self._s.promise is not None
            self._s.promise.credited_before = sum(
                (p.amount for p in self._s.book.payments if p.on >= today), Decimal(0)
            )
        if verdict == "broken":
            if self._s.promise_plan:
                self._s.promise_plan = []  # a broken plan promise ends the plan
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
        calls_only = paused and self._attorney_only(now)
        deferred = [d for d in self._s.deferred if not calls_only or d.action == "call_task"]
        if deferred and (not paused or calls_only):
            first = min(deferred, key=lambda d: d.due_at)
            candidates.append((max(first.due_at, now), first.action))
        if not paused:
            candidates.extend((at, "skip_tracing") for at in self._skip_moments())
        placement_end = self._placement_end()
        if placement_end is not None:
            candidates.append((max(placement_end, now), "oca_recall"))
        hold_ends = [h.until for h in active_holds(self._s.holds, now) if h.until is not None]
        if hold_ends:
            candidates.append((min(hold_ends), "hold_ends"))
        task_ends = [
            t.not_after for t in self._s.open_tasks if t.not_after is not None and t.owner is None
        ]
        if task_ends:
            # An unworked task is closed when its window ends, even with nothing else to do.
            # (A subflow's tasks end with the subflow's own deadline, which wakes us anyway.)
            candidates.append((max(min(task_ends), now), "task_expiry"))
        if self._s.anchor is not None and (not paused or calls_only):
            steps = self._ladder(calls_only)
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
                if self._s.restructure_stage == "accepted" and self._s.restructure_child:
                    self._pending_signals.append((self._s.restructure_child, "payment", payment))
                dpd = self._s.book.dpd(today)
                placement = self._s.placement
                self._pending_payments.append(
                    PaymentRecord(
                        payment_id=payment.payment_id,
                        amount=payment.amount,
                        paid_at=payment.paid_at,
                        dpd=dpd,
                        bucket=self._strategy.bucket_for(dpd),
                        agency_id=placement["agency_id"] if placement else None,
                        placement_id=placement["placement_id"] if placement else None,
                        commission=quantize(
                            payment.amount * Decimal(placement["commission_rate"]),
                            self._s.account.currency,
                        )
                        if placement
                        else None,
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
            if request.conversation:
                self._record_conversation(workflow.now(), request.number)
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
            self._check_promise(request.outcome.promise, supervisor_override=request.by_supervisor)
        self._check_plan(request.outcome.hardship)

    def _take_open_task(self, task_id: str) -> OpenTask:
        task = next(t for t in self._s.open_tasks if t.task_id == task_id)
        self._s.open_tasks = [t for t in self._s.open_tasks if t.task_id != task_id]
        self._drop_pending(task_id)
        return task

    def _drop_pending(self, task_id: str) -> None:
        """A closed task's possible call no longer counts against the caps (an outcome adds
        what really happened instead)."""
        if self._s.ledger is not None:
            self._s.ledger = self._s.ledger.without_pending(task_id)

    def _apply_outcome(self, task: OpenTask, request: TaskOutcome) -> str:
        """What the outcome changes in the episode: the branches of PLAYBOOK.md sections 6-12."""
        outcome = request.outcome
        code = outcome.outcome
        now = workflow.now()
        if task.owner is not None:
            self._forward_to_child(task, request, now)
            return f"{code} passed to {task.owner}"
        if code not in NOT_REACHED and task.kind in ("call", "field_visit"):
            # Reaching the borrower's attorney is not reaching the borrower.
            self._s.reached = self._s.reached or task.party != "attorney"
        self._learn_from_outcome(task, code, now)
        if outcome.broken_promise_reason:
            self._explain_broken_promise(outcome.broken_promise_reason)
        dpd = self._s.book.dpd(self._today(now))
        if code in UNANSWERED:
            return self._after_no_answer(now, task, dpd)
        self._s.unanswered_in_row, self._s.no_answer_followed_up = 0, []
        if code in DEAD or code == "address_invalid":
            return self._after_dead_contact(now, dpd)
        if code == "callback_requested" and outcome.at is not None:
            self._fire_step(
                now,
                BRANCH_STEPS["branch.call"],
                dpd,
                window=(outcome.at, outcome.at + timedelta(minutes=30)),
                target=task.target,
                party=task.party,
                detail={"reason": f"callback requested by the borrower for {outcome.at}"},
            )
            return f"callback at {outcome.at}"
        if code in ("deceased_reported", "bankruptcy_reported"):
            kind = "deceased" if code == "deceased_reported" else "bankruptcy"
            self._add_hold(now, kind, {"reported_by": request.recorded_by})
            return f"{kind} hold; write-off subflow started"
        if code == "found" and outcome.contact_info is not None:
            self._apply_contact_info(outcome.contact_info)
            return "new contact details: normal treatment resumes"
        if code == "hardship" and outcome.hardship is not None:
            return self._after_hardship(now, outcome.hardship, request.recorded_by, dpd)
        if code == "refused":
            return self._after_refusal(now, outcome.reason or "other", request.recorded_by, dpd)
        if code in ("restructure_accepted", "restructure_declined"):
            decision = "accept" if code == "restructure_accepted" else "decline"
            self._answer_offer(decision, request.recorded_by, now)
            return f"restructure offer: {decision}"
        if code == "visited_met" and outcome.hardship is not None:
            return self._after_hardship(now, outcome.hardship, request.recorded_by, dpd)
        if code in ("promise_to_pay", "visited_met") and outcome.promise is not None:
            view = self._make_promise(outcome.promise)
            return f"promise {view.promise_id} recorded"
        return f"{code} recorded"

    def _learn_from_outcome(self, task: OpenTask, code: str, now: datetime) -> None:
        """The contact ledger counts the attempt; a right-party contact teaches the account's
        best hour (section 6); a dead number leaves the rotation."""
        ledger = self._s.ledger
        if ledger is None:
            return
        record = outcome_record(task.kind, code, task.target, now, party=task.party)
        if record is not None:
            ledger = ledger.with_record(record)
        if code in DEAD and task.target:
            ledger = ledger.with_dead_number(task.target)
        self._s.ledger = ledger
        if code in RIGHT_PARTY_OUTCOMES and task.kind == "call" and task.party != "attorney":
            local = now.astimezone(zone(self._tz))
            self._s.rpc_hours = (self._s.rpc_hours + [local.hour])[-20:]

    def _after_no_answer(self, now: datetime, task: OpenTask, dpd: int) -> str:
        """Section 11: another slot and number next time; after N unanswered an SMS and a
        letter; after M the contact persons are asked to pass a message."""
        policy = self._strategy.branches.no_answer
        self._s.unanswered_in_row += 1
        streak = self._s.unanswered_in_row
        done = self._s.no_answer_followed_up
        effects = [f"{streak} unanswered in a row"]
        if streak >= policy.sms_and_letter_after and policy.sms_and_letter_after not in done:
            done.append(policy.sms_and_letter_after)
            for step_id in ("branch.no_answer.sms", "branch.no_answer.letter"):
                self._fire_step(now, BRANCH_STEPS[step_id], dpd)
            effects.append("SMS and letter")
        persons = [c for c in self._s.account.contacts if not c.guarantor]
        if streak >= policy.contact_persons_after and policy.contact_persons_after not in done:
            done.append(policy.contact_persons_after)
            for person in persons:
                self._fire_step(
                    now,
                    BRANCH_STEPS["branch.contact_persons"],
                    dpd,
                    target=person.phone,
                    party="third_party",
                    purpose="message",
                    detail={
                        "reason": f"{streak} calls unanswered: ask {person.relation} to pass "
                        "a message (never mention the debt)",
                        "contact_relation": person.relation,
                    },
                )
            effects.append(f"{len(persons)} contact person(s) asked to pass a message")
        slot, window = next_slot_window(now, task.slot or 0, self._slots, self._tz)
        self._fire_step(
            now,
            BRANCH_STEPS["branch.call"],
            dpd,
            window=window,
            detail={"reason": f"no answer ({streak} in a row): next slot {slot}, next number"},
        )
        return "; ".join(effects)

    def _after_dead_contact(self, now: datetime, dpd: int) -> str:
        """Section 12: with no live number left the account becomes a skip."""
        ledger = self._s.ledger
        if ledger is not None and not live_numbers(self._s.account, ledger):
            self._enter_skip(now, dpd, "every number is dead or wrong")
            return "no live number left: skip tracing"
        return "number dropped from the rotation"

    def _enter_skip(self, now: datetime, dpd: int, why: str) -> None:
        if self._s.skip_since is not None:
            return
        self._s.skip_since, self._s.skip_done = now, []
        self._queue_action(
            now,
            BRANCH_STEPS["branch.skip_trace"],
            dpd,
            window=(
                now,
                now + timedelta(days=self._strategy.branches.skip.field_investigation_after_days),
            ),
            extra={
                "reason": f"skip: {why}",
                "sources": [
                    "old call logs for numbers that once worked",
                    "scanned application documents",
                    "credit-bureau report",
                    "sales channel",
                ],
            },
        )

    def _advance_skip(self, now: datetime, dpd: int) -> None:
        """A skip still lost is visited, then placed with an agency (section 12)."""
        since = self._s.skip_since
        if since is None:
            return
        policy = self._strategy.branches.skip
        for step_id, days in (
            ("branch.field_investigation", policy.field_investigation_after_days),
            ("branch.skip_oca", policy.oca_after_days),
        ):
            if step_id not in self._s.skip_done and now >= since + timedelta(days=days):
                self._s.skip_done.append(step_id)
                self._fire_step(
                    now,
                    BRANCH_STEPS[step_id],
                    dpd,
                    detail={"reason": f"skip since {since.date()}: still not found"},
                )

    def _skip_moments(self) -> list[datetime]:
        since = self._s.skip_since
        if since is None:
            return []
        policy = self._strategy.branches.skip
        return [
            since + timedelta(days=days)
            for step_id, days in (
                ("branch.field_investigation", policy.field_investigation_after_days),
                ("branch.skip_oca", policy.oca_after_days),
            )
            if step_id not in self._s.skip_done
        ]

    def _after_hardship(self, now: datetime, hardship: HardshipIn, by: str, dpd: int) -> str:
        """Section 9: short term → a grace hold; long term → restructuring when eligible;
        otherwise normal treatment, with the hardship on record."""
        record = {
            "cause": hardship.cause,
            "term": hardship.term,
            "surmountable": str(hardship.surmountable),
            "recorded_by": by,
            "at": now.isoformat(),
        }
        self._s.hardships.append(record)
        if hardship.term == "short" and hardship.plan:
            first, *rest = hardship.plan
            self._make_promise(first)
            self._s.promise_plan = list(rest)
            return (
                f"short-term hardship: payment plan of {len(hardship.plan)} promises, "
                f"the first {first.amount} by {first.promised_date}"
            )
        if hardship.term == "short":
            until = now + timedelta(days=self._strategy.holds.grace_days)
            grace = Hold(kind="grace", since=now, until=until, detail={"cause": hardship.cause})
            self._s.holds.append(grace)
            self._record_hold(now, "hold_placed", grace, {"reason": "short-term hardship"})
            self._cancel_tasks(now, "grace")
            return f"short-term hardship: grace until {until.date()}"
        ok, why = eligible(
            self._s.account.history.prior_delinquencies,
            dpd,
            self._s.restructure_stage is not None,
            self._strategy.branches.restructure,
        )
        if ok and self._s.restructure_child is None:
            self._pending_children.append("restructure")
            return f"long-term hardship: restructuring offered ({why})"
        return f"long-term hardship recorded; not eligible for restructuring: {why}"

    def _after_refusal(self, now: datetime, reason: str, by: str, dpd: int) -> str:
        """Section 10: unwilling to pay."""
        if reason == "complaint":
            self._record_action(
                now,
                "complaint_routing",
                "internal",
                {"reason": "the borrower complained during a call", "recorded_by": by},
            )
            self._add_hold(now, "complaint", {"reported_by": by})
            return "complaint routed; complaint hold"
        if reason == "collector_grievance":
            if by not in self._s.never_assign:
                self._s.never_assign.append(by)
            if self._s.holder == by:
                self._s.holder = None
            self._record_action(
                now,
                "reassignment",
                "internal",
                {
                    "reason": "the borrower has a grievance against the collector",
                    "from": by,
                    "never_to": list(self._s.never_assign),
                },
            )
            return f"reassigned away from {by}"
        if reason == "fraud_suspected":
            for step_id in ("branch.fraud_warning", "branch.fraud_visit"):
                self._fire_step(
                    now,
                    BRANCH_STEPS[step_id],
                    dpd,
                    detail={"reason": "fraud suspected: legal warning and an early visit"},
                )
            return "fraud suspected: legal warning letter and early field visit"
        return "refusal recorded"

    def _explain_broken_promise(self, reason: str) -> None:
        """Section 7: why the last promise broke; our own late or wrong debit file does not
        count against the borrower."""
        if not self._s.broken_dates:
            return
        key = str(len(self._s.broken_dates))
        self._s.broken_reasons[key] = reason
        if reason == "debit_file_error":
            self._s.broken_dates = self._s.broken_dates[:-1]

    def _expire_tasks(self, now: datetime) -> None:
        """Tasks whose window has passed are closed here, so no queue holds stale work."""
        expired = [t for t in self._s.open_tasks if t.not_after is not None and t.not_after <= now]
        if not expired:
            return
        self._s.open_tasks = [t for t in self._s.open_tasks if t not in expired]
        for task in expired:
            self._drop_pending(task.task_id)
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
            hold = self._add_hold(workflow.now(), request.kind, detail)
            self._wake = True
            return HoldView(kind=hold.kind, since=hold.since, until=hold.until)

    def _add_hold(self, now: datetime, kind: str, detail: dict[str, str]) -> Hold:
        """Record a hold and do what it starts: bankruptcy and death cancel the borrower's work
        and any restructuring, and start the write-off subflow (section 8)."""
        until = None
        if kind == "complaint":
            until = now + timedelta(days=self._strategy.holds.complaint_days)
        hold = Hold(kind=kind, since=now, until=until, detail=detail)
        self._s.holds.append(hold)
        self._record_hold(now, "hold_placed", hold, detail)
        self._cancel_tasks(now, kind)
        if kind in AGENCY_NOTICE_HOLDS and self._s.placement is not None:
            self._tell_agency(now, "oca_hold_notice", hold, now)
            self._s.agency_hold_notices.append(_hold_key(hold))
        if kind in ("bankruptcy", "deceased"):
            self._s.deferred = []
            self._recall_agency(now, f"{kind} reported", replace=False)
            if self._s.restructure_child is not None:
                self._pending_signals.append((self._s.restructure_child, "cancel", None))
            if self._s.write_off_child is None:
                self._pending_children.append(kind)
        return hold

    @add_hold.validator
    def _validate_add_hold(self, request: HoldRequest) -> None:
        self._require_open("record a hold")

    @workflow.update
    async def recall_agency(self, request: AgencyRecallRequest) -> dict[str, str]:
        """A supervisor takes the account back from its agency before the period ends."""
        async with self._lock:
            placement = self._s.placement
            assert placement is not None  # the validator refused otherwise
            now = workflow.now()
            self._recall_agency(
                now,
                f"requested by {request.requested_by}: {request.reason}",
                replace=not self._paused(now),
            )
            self._wake = True
            return {
                "recalled_from": placement["agency_id"],
                "placement_id": placement["placement_id"],
            }

    @recall_agency.validator
    def _validate_recall_agency(self, request: AgencyRecallRequest) -> None:
        self._require_open("recall the account from its agency")
        if self._s.placement is None:
            raise ApplicationError(
                f"Account {self._s.account.loan_id} is not placed with an agency.",
                type=NO_PLACEMENT,
                non_retryable=True,
            )

    @workflow.update
    async def reassign(self, request: ReassignRequest) -> dict[str, str]:
        """Section 5: a supervisor reassigns the account, or a collector hands it to the team
        lead; the new holder gets the account's open work (a `reassignment` action)."""
        async with self._lock:
            now = workflow.now()
            self._record_action(
                now,
                "reassignment",
                "internal",
                {
                    "reason": f"{request.kind} by {request.by}: {request.reason}",
                    "kind": request.kind,
                    "from": self._s.holder or "",
                    "to": request.to,
                    "by": request.by,
                    "never_to": list(self._s.never_assign),
                },
            )
            self._s.holder = request.to
            self._wake = True
            return {"holder": request.to, "kind": request.kind}

    @reassign.validator
    def _validate_reassign(self, request: ReassignRequest) -> None:
        self._require_open("reassign the account")
        if request.to in self._s.never_assign:
            raise ApplicationError(
                f"{request.to} may not hold account {self._s.account.loan_id}: the borrower "
                "complained about them (collector grievance).",
                type=NOT_ALLOWED,
                non_retryable=True,
            )

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
            if ended.kind == "attorney":
                self._end_attorney_calls(now)
            self._record_hold(
                now,
                "hold_released",
                ended,
                {"released_by": release.released_by, "notes": release.notes or ""},
            )
            return HoldView(kind=ended.kind, since=ended.since, until=ended.until)

    def _end_attorney_calls(self, now: datetime) -> None:
        """When no attorney hold is left, the open calls to the attorney are cancelled: the next
        call step goes to the borrower again."""
        if self._attorney_phone(now) is not None:
            return
        calls = [t for t in self._s.open_tasks if t.party == "attorney" and t.owner is None]
        if not calls:
            return
        self._s.open_tasks = [t for t in self._s.open_tasks if t not in calls]
        for task in calls:
            self._drop_pending(task.task_id)
            self._pending_task_updates.append(
                TaskUpdate(
                    task_id=task.task_id,
                    status="cancelled",
                    at=now,
                    reason="attorney hold released: calls go to the borrower again",
                )
            )

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
            added = self._apply_contact_info(request.info)
            self._wake = True
            return {
                "phones_added": added,
                "dead_numbers": len(request.info.dead_phones),
                "consents": dict(request.info.consents),
            }

    def _apply_contact_info(self, info: ContactInfo) -> int:
        ledger = self._s.ledger
        assert ledger is not None
        borrower = self._s.account.borrower
        known = {p.number for p in borrower.phones}
        added = [p for p in info.phones if p.number not in known]
        for number in info.dead_phones:
            ledger = ledger.with_dead_number(number)
        for channel, granted in info.consents.items():
            ledger = ledger.with_consent(channel, granted)
        for phone in added:
            ledger = ledger.without_dead_number(phone.number)
        for phone in info.phones:
            # A number the update lists is one the collector just confirmed: it may take texts
            # again (a no-op before the delivery failure policy, which alone fills these).
            ledger = ledger.with_sms_working(phone.number)
        address = info.address if info.address else borrower.address
        self._s.account = self._s.account.model_copy(
            update={
                "borrower": borrower.model_copy(
                    update={"phones": list(borrower.phones) + added, "address": address}
                )
            }
        )
        self._context = context_of(self._s.account, self._strategy)
        self._s.ledger = ledger
        if (added or info.address) and self._s.skip_since is not None:
            # Section 12: new contact details resume normal treatment.
            self._s.skip_since, self._s.skip_done = None, []
        return len(added)

    @contact_info.validator
    def _validate_contact_info(self, request: ContactInfoRequest) -> None:
        self._require_open("change contact details")

    @workflow.update
    async def agency_contacts(self, request: AgencyContactsRequest) -> dict[str, object]:
        """Contacts an agency made (its daily contact file, relayed by the bank's systems) join
        the contact ledger with actor `agency`, so the caps count our collectors and the
        agencies together. The same (agency_id, contact_id) counts once, in this run and the
        ones after continue-as-new. An `agency_contacts` action records what came in."""
        async with self._lock:
            now = workflow.now()
            ledger = self._s.ledger
            assert ledger is not None
            seen = set(self._s.agency_contact_keys)
            new = []
            for contact in request.contacts:
                if contact.key in seen:
                    continue
                seen.add(contact.key)
                new.append(contact)
                ledger = ledger.with_record(
                    agency_record(contact.channel, contact.number, contact.result, contact.at)
                )
            self._s.ledger = ledger
            self._s.agency_contact_keys = (self._s.agency_contact_keys + [c.key for c in new])[
                -MAX_REMEMBERED_AGENCY_CONTACTS:
            ]
            duplicates = len(request.contacts) - len(new)
            if new:
                self._record_action(
                    now,
                    "agency_contacts",
                    "internal",
                    {
                        "reason": f"{len(new)} agency contact(s) reported by "
                        f"{request.reported_by} joined the contact ledger",
                        "recorded": len(new),
                        "duplicates": duplicates,
                        "agency_ids": sorted({c.agency_id for c in new}),
                        "contact_ids": [c.contact_id for c in new],
                        "by_result": {
                            f"{channel}/{result}": sum(
                                1 for c in new if (c.channel, c.result) == (channel, result)
                            )
                            for channel, result in sorted({(c.channel, c.result) for c in new})
                        },
                        "first_at": min(c.at for c in new).isoformat(),
                        "last_at": max(c.at for c in new).isoformat(),
                    },
                )
                self._wake = True
            return {"recorded": len(new), "duplicates": duplicates}

    @agency_contacts.validator
    def _validate_agency_contacts(self, request: AgencyContactsRequest) -> None:
        self._require_open("record agency contacts")

    def _record_conversation(self, now: datetime, number: str | None) -> None:
        """A telephone conversation with the borrower told through the API (a promise, a
        hardship, an answer to an offer given on the phone) is a right-party call in the
        ledger at this instant: Regulation F's 7-day pause starts from it, and the cn cap on
        connected calls counts it (conservative for an inbound call)."""
        ledger = self._s.ledger
        if ledger is None:
            return
        phones = [p.number for p in self._s.account.borrower.phones]
        target = (
            number or choose_target(self._s.account, ledger, "call") or next(iter(phones), None)
        )
        record = conversation_record(target, now)
        if record is not None:
            self._s.ledger = ledger.with_record(record)

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
            elif event.kind in ("number_dead", "delivery_failed") and number:
                self._s.ledger = ledger
                code = event.detail.get("error_code")
                self._learn_delivery_failure(
                    workflow.now(),
                    event.channel,
                    number,
                    int(code) if code is not None else None,
                    said_dead=event.kind == "number_dead",
                    source=f"status callback: {event.detail.get('status') or event.kind}",
                    detail={
                        k: event.detail[k]
                        for k in ("provider_id", "action_seq", "episode")
                        if event.detail.get(k) is not None
                    },
                )
                ledger = self._s.ledger
            elif event.kind == "inbound_reply":
                self._s.reached = True
                if number:
                    # A reply proves the number takes texts (a no-op before the delivery
                    # failure policy, which alone fills these fields).
                    ledger = ledger.with_sms_working(number)
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
        if hold_kind in PAUSING_HOLDS_CANCEL and any(
            t.kind in PAUSING_HOLDS_CANCEL[hold_kind] and t.owner is None
            for t in self._s.open_tasks
        ):
            kinds = PAUSING_HOLDS_CANCEL[hold_kind]
        cancelled = [t for t in self._s.open_tasks if t.kind in kinds and t.owner is None]
        if not cancelled:
            return
        self._s.open_tasks = [t for t in self._s.open_tasks if t not in cancelled]
        for task in cancelled:
            self._drop_pending(task.task_id)
            self._pending_task_updates.append(
                TaskUpdate(
                    task_id=task.task_id,
                    status="cancelled",
                    at=now,
                    reason=f"{hold_kind} hold: {task.kind} tasks stop",
                )
            )

    # ------------------------------------------------------------------ subflows

    async def _run_subflow_commands(self, now: datetime) -> None:
        """Start the children and send the signals that handlers decided on. Children are
        abandoned on purpose when this run continues as new: they report to the workflow id,
        which always reaches the current run."""
        while self._pending_children:
            kind = self._pending_children.pop(0)
            self._s.child_seq += 1
            loan = self._s.account.loan_id
            book = self._s.book
            if kind == "restructure":
                child_id = f"restructure-{loan}-{self._s.child_seq}"
                self._s.restructure_child, self._s.restructure_stage = child_id, "starting"
                self._child_handles[child_id] = await workflow.start_child_workflow(
                    "DebtRestructureWorkflow",
                    RestructureInput(
                        loan_id=loan,
                        account_workflow_id=workflow.info().workflow_id,
                        episode=self._s.episode,
                        currency=self._s.account.currency,
                        timezone=self._tz,
                        balance=book.balance,
                        penalty_accrued=book.penalty_outstanding,
                        offered_at=now,
                        policy=self._strategy.branches.restructure,
                    ),
                    id=child_id,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            else:
                child_id = f"write-off-{loan}-{self._s.child_seq}"
                self._s.write_off_child = child_id
                self._child_handles[child_id] = await workflow.start_child_workflow(
                    "WriteOffWorkflow",
                    WriteOffInput(
                        loan_id=loan,
                        account_workflow_id=workflow.info().workflow_id,
                        episode=self._s.episode,
                        currency=self._s.account.currency,
                        timezone=self._tz,
                        reason=kind,
                        reported_by=next(
                            (
                                h.detail.get("reported_by", "")
                                for h in reversed(self._s.holds)
                                if h.kind == kind
                            ),
                            "",
                        ),
                        balance=book.balance,
                        started_at=now,
                        policy=self._strategy.branches.write_off,
                    ),
                    id=child_id,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
        while self._pending_signals:
            child_id, name, arg = self._pending_signals.pop(0)
            handle = workflow.get_external_workflow_handle(child_id)
            await (handle.signal(name) if arg is None else handle.signal(name, arg))

    async def _await_children(self, children: list[str]) -> None:
        """The episode ends after the subflows it cancelled have ended, not a moment before: a
        parent that completes while its child is still closing leaves the child's last events
        racing the parent's completion (and stops the time-skipping test server's clock)."""
        handles = [self._child_handles[c] for c in children if c in self._child_handles]
        if not handles:
            return
        ended: list[str] = []

        async def watch(handle: workflow.ChildWorkflowHandle[Any, Any]) -> None:
            with contextlib.suppress(BaseException):  # how it ended is the child's record
                await handle
            ended.append(handle.id)

        for handle in handles:
            asyncio.create_task(watch(handle))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: len(ended) == len(handles), timeout=CHILD_CLOSE_TIMEOUT
            )

    def _forward_to_child(self, task: OpenTask, request: TaskOutcome, now: datetime) -> None:
        assert task.owner is not None and task.task_key is not None
        self._pending_signals.append(
            (
                task.owner,
                "task_outcome",
                ChildTaskOutcome(
                    task_key=task.task_key,
                    task_id=task.task_id,
                    outcome=request.outcome.outcome,
                    recorded_by=request.recorded_by,
                    at=now,
                    notes=request.outcome.notes,
                ),
            )
        )

    def _answer_offer(self, decision: str, by: str, now: datetime) -> None:
        child = self._s.restructure_child
        if child is None:
            return
        self._pending_signals.append(
            (child, "answer", RestructureAnswer(decision=decision, recorded_by=by, at=now))
        )

    @workflow.signal
    async def subflow_event(self, event: SubflowEvent) -> None:
        """What a child reports; the parent records it and moves the account's state."""
        async with self._lock:
            now = workflow.now()
            dpd = self._s.book.dpd(self._today(now))
            kind = event.kind
            detail = dict(event.detail)
            if kind == "restructure_offered":
                self._s.restructure_stage, self._s.offer = "offered", detail
                plan = detail.get("instalments") or []
                self._send_offer(
                    now,
                    "restructure_offer",
                    {
                        "reason": "long-term hardship, eligible for restructuring",
                        "new_instalment_amount": detail.get("instalment_amount"),
                        "instalment_count": len(plan),
                        "waiver_amount": detail.get("waiver"),
                        "expires_on": detail.get("expires_on"),
                        "child": event.child_id,
                    },
                )
            elif kind == "restructure_accepted":
                self._s.restructure_stage = "accepted"
                self._cancel_tasks(now, "restructured")
                self._transition(
                    now,
                    "restructured",
                    dpd,
                    "restructure plan accepted",
                    bucket="current",
                    stage=self._s.stage,
                )
            elif kind in ("restructure_declined", "restructure_expired"):
                self._s.restructure_child = self._s.restructure_stage = None
                self._s.offer = None
            elif kind == "restructure_broken":
                self._s.restructure_child = self._s.restructure_stage = None
                self._s.offer = None
                self._s.floor = dpd
                self._transition(
                    now,
                    "delinquent",
                    dpd,
                    f"restructure plan broken: {detail.get('days_late')} days late",
                )
            elif kind == "restructure_completed":
                self._s.restructure_child = self._s.restructure_stage = None
                self._transition(
                    now,
                    "closed",
                    dpd,
                    "restructure plan completed",
                    bucket="current",
                    stage=self._s.stage,
                )
            elif kind == "task_needed":
                task_kind = str(detail.get("task_kind"))
                action = "verification_task" if task_kind == "verification" else "approval_task"
                self._s.action_seq += 1
                seq = self._s.action_seq
                window_days = 30 if task_kind == "verification" else 14
                window = (now, now + timedelta(days=window_days))
                self._s.open_tasks.append(
                    OpenTask(
                        task_id=task_id_for(self._s.account.loan_id, self._s.episode, seq),
                        kind=task_kind,
                        action_seq=seq,
                        not_after=window[1],
                        owner=event.child_id,
                        task_key=str(detail.get("task_key")),
                    )
                )
                self._pending_actions.append(
                    ActionCommand(
                        seq=seq,
                        at=now,
                        kind=action,
                        channel="internal",
                        stage=self._s.stage,
                        detail={
                            "reason": f"write-off subflow {event.child_id} asks for {task_kind}",
                            "task_kind": task_kind,
                            **{k: v for k, v in detail.items() if k != "task_kind"},
                        },
                        task_window=window,
                        priority=self._s.book.balance,
                    )
                )
            elif kind == "settlement_offered":
                self._send_offer(
                    now,
                    "settlement_offer",
                    {"reason": "death: settlement offer to the related parties", **detail},
                )
            elif kind == "write_off_rejected" or (
                kind == "write_off_not_verified" and detail.get("reason") != "not verified"
            ):
                # Nobody verified in time: the stay stands until a supervisor decides; never
                # resume collecting from someone reported bankrupt or dead by default.
                self._s.write_off_child = None
                self._record_action(
                    now,
                    "write_off",
                    "internal",
                    {"status": kind, **detail, "next": "supervisor review; the hold stays"},
                )
            elif kind == "write_off_not_verified":
                # The anti-fraud team found the report untrue: back to collection.
                self._s.write_off_child = None
                for hold in self._s.holds:
                    if hold.kind in ("bankruptcy", "deceased") and hold.active_at(now):
                        self._record_hold(
                            now,
                            "hold_released",
                            hold.ended(now),
                            {"released_by": "write-off verification", "notes": "not verified"},
                        )
                self._s.holds = [
                    h.ended(now) if h.kind in ("bankruptcy", "deceased") and h.active_at(now) else h
                    for h in self._s.holds
                ]
                self._record_action(
                    now,
                    "write_off",
                    "internal",
                    {"status": kind, "reason": "back to collection", **detail},
                )
            elif kind == "written_off":
                self._s.write_off_child = None
                self._record_action(now, "write_off", "internal", {"status": "posted", **detail})
                self._transition(
                    now, "written_off", dpd, "written off after verification and approval"
                )
            self._wake = True

    def _send_offer(
        self, now: datetime, kind: str, detail: dict[str, object], rescheduled_by: str = ""
    ) -> None:
        """An offer letter a subflow asks for (restructure offer, settlement offer to the
        estate) is a contact like any other: it passes the gate, waits for the earliest allowed
        instant (a public holiday, a complaint hold), or is dropped when only a change of facts
        could allow it (bankruptcy, cease-communication, attorney)."""
        ledger = self._s.ledger
        assert ledger is not None
        decision = earliest_allowed(
            ProposedContact(channel="letter", at=now, party=OFFER_LETTERS[kind]),
            ledger,
            self._s.holds,
            self._profile,
            self._context,
        )
        if decision.allowed and (decision.earliest is None or decision.earliest <= now):
            extra = {"rescheduled_by": rescheduled_by} if rescheduled_by else {}
            self._record_action(now, kind, "mail", {**detail, **extra})
            record = sent_record("letter", None, now)
            if record is not None:
                self._s.ledger = ledger.with_record(record)
            return
        rule = str(decision.requirements.get("blocked_by") or decision.rule or "unknown")
        earliest = decision.earliest if decision.allowed else None
        step_id = f"branch.{kind}"
        self._record_blocked(now, kind, step_id, "letter", rule, decision.reason, earliest)
        if earliest is not None:
            self._s.deferred.append(
                DeferredContact(
                    step_id=step_id, action=kind, due_at=earliest, blocked_by=rule, detail=detail
                )
            )

    @workflow.update
    async def hardship(self, request: HardshipRequest) -> dict[str, str]:
        """Unable to pay, reported outside a task (section 9)."""
        async with self._lock:
            now = workflow.now()
            dpd = self._s.book.dpd(self._today(now))
            effect = self._after_hardship(now, request.hardship, request.recorded_by, dpd)
            if request.conversation:
                self._record_conversation(now, request.number)
            self._wake = True
            return {"effect": effect}

    @hardship.validator
    def _validate_hardship(self, request: HardshipRequest) -> None:
        self._require_open("record a hardship")
        self._check_offer_allowed(request.hardship)
        self._check_plan(request.hardship)

    def _check_offer_allowed(self, hardship: HardshipIn | None) -> None:
        """A long-term hardship leads to a restructure offer; none may be made during a stay,
        after a death, to a represented borrower or one who asked us to cease. Refused (409)
        rather than parked: the collector learns at once why nothing will be offered."""
        if hardship is None or hardship.term != "long":
            return
        blocking = sorted(
            {h.kind for h in active_holds(self._s.holds, workflow.now())} & NO_OFFER_HOLDS
        )
        if blocking:
            raise ApplicationError(
                f"No restructure offer can be made while a {', '.join(blocking)} hold is "
                "active; record the hardship once the hold has ended.",
                type=NOT_ALLOWED,
                non_retryable=True,
            )

    def _check_plan(self, hardship: HardshipIn | None) -> None:
        """A payment plan is a series of promises: refused like a promise would be (an open
        promise → 409; dates, amounts, gaps → 422)."""
        if hardship is None or not hardship.plan:
            return
        first = hardship.plan[0]
        self._check_promise(first, supervisor_override=False)
        today = self._today()
        book = self._s.book.model_copy(deep=True)
        if today > self._first_due():
            book.accrue_to(today)
        errors = validate_plan(
            [(p.amount, p.promised_date) for p in hardship.plan],
            today,
            book.balance,
            self._strategy.promises,
        )
        if errors:
            raise ApplicationError(
                " ".join(errors), errors, type=INVALID_PROMISE, non_retryable=True
            )

    @workflow.update
    async def restructure_answer(self, request: RestructureAnswer) -> dict[str, str]:
        """The borrower's answer to the open restructure offer, passed to the subflow."""
        async with self._lock:
            self._answer_offer(request.decision, request.recorded_by, workflow.now())
            if request.conversation:
                self._record_conversation(workflow.now(), request.number)
            self._wake = True
            return {"decision": request.decision, "offer": str(self._s.restructure_child)}

    @restructure_answer.validator
    def _validate_restructure_answer(self, request: RestructureAnswer) -> None:
        if self._s.restructure_stage != "offered":
            raise ApplicationError(
                "There is no open restructure offer on this account.",
                type=NO_OPEN_OFFER,
                non_retryable=True,
            )

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
            holder=self._s.holder,
            agency=self._s.placement["agency"] if self._s.placement else None,
            agency_period_end=self._placement_end(),
            legal_case=self._s.legal_case,
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
