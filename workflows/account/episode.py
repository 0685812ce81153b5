"""The episode: the account's state, the policy pinned at its start, and the outbox of commands
the decisions leave for the workflow to carry out.

Every decision module (ladder, gate, promises, outcomes, holds, agency_legal, subflows,
deliveries) takes an `Episode` and the instant it decides at, changes the state, and appends to
the outbox. Only `workflow.py` talks to Temporal: it drains the outbox into one `apply_moment`
activity, child starts, signals and search-attribute upserts. Nothing here reads a clock or
imports temporalio, so a decision can be unit-tested with a made-up instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from domain.account import PaymentIn
from domain.book import LoanBook
from domain.calendar import local_date, start_of_local_day
from domain.contact import BorrowerContext, ContactProfile, Hold, HolidayCalendars, active_holds
from domain.money import check_precision, quantize
from domain.plan import slot_window
from domain.policy import EpisodePolicy, ResolvedPolicy
from domain.promise import Promise, deadline
from domain.strategy import Step, Strategy
from domain.vocabulary import CLOSED_STATES, TASK_KINDS, AccountState, ActionKind, Refusal
from workflows.account import compaction, schedule
from workflows.account.branches import slot_of
from workflows.account.contacts import context_of, opening_ledger
from workflows.contracts import (
    AccountStatus,
    AccountWorkflowInput,
    ActionCommand,
    ActionDetail,
    EpisodeState,
    HoldDetail,
    HoldView,
    MomentRecord,
    NextAction,
    OpenTask,
    PaymentConflictDetail,
    PaymentRecord,
    PromiseView,
    StrategyRef,
    TaskUpdate,
    TransitionRecord,
    detail_for,
    task_id_for,
)

# Rejections carry a type the API maps to an HTTP status (domain.vocabulary.Refusal).
INVALID_PROMISE = Refusal.INVALID_PROMISE
NOT_ALLOWED = Refusal.NOT_ALLOWED
SUPERVISOR_REQUIRED = Refusal.SUPERVISOR_REQUIRED
TASK_CLOSED = Refusal.TASK_CLOSED
TASK_NOT_OPEN = Refusal.TASK_NOT_OPEN
INVALID_OUTCOME = Refusal.INVALID_OUTCOME
NO_PLACEMENT = Refusal.NO_PLACEMENT
NO_SUCH_HOLD = Refusal.NO_SUCH_HOLD
NO_OPEN_OFFER = Refusal.NO_OPEN_OFFER
PAYMENT_CONFLICT = Refusal.PAYMENT_CONFLICT
INVALID_PAYMENT = Refusal.INVALID_PAYMENT
ACCOUNT_CLOSED = Refusal.ACCOUNT_CLOSED

# Fallback length of a task window when no slot is left today or the task was rescheduled.
TASK_WINDOW = timedelta(hours=2)


class Refused(Exception):
    """A request the episode cannot take, raised by a check before it enters history; the
    workflow turns it into a non-retryable `ApplicationError` of `type` (the API maps the type
    to an HTTP status). `details` become the error's details, as the API reads them."""

    def __init__(self, message: str, type: str, *details: object) -> None:
        super().__init__(message)
        self.message, self.type, self.details = message, type, details


@dataclass(frozen=True)
class ChildSignal:
    """A signal the workflow sends to a child workflow (its id, the signal, its argument)."""

    child_id: str
    name: str
    arg: object = None


@dataclass(frozen=True)
class SearchAttributes:
    """The account's state, bucket and stage as the workflow upserts them (and the segment at
    the start); one per transition, in order."""

    state: str
    bucket: str
    stage: str
    segment: str | None = None


@dataclass
class Outbox:
    """What the decisions asked for and the workflow has not yet carried out."""

    actions: list[ActionCommand] = field(default_factory=list)
    transitions: list[TransitionRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    promises: list[PromiseView] = field(default_factory=list)
    task_updates: list[TaskUpdate] = field(default_factory=list)
    # Subflows to start ("restructure", or the hold kind that starts a write-off).
    children: list[str] = field(default_factory=list)
    signals: list[ChildSignal] = field(default_factory=list)
    search_attributes: list[SearchAttributes] = field(default_factory=list)

    def has_moment(self) -> bool:
        """Whether anything waits for the moment's `apply_moment` activity."""
        return bool(
            self.actions or self.transitions or self.payments or self.promises or self.task_updates
        )


class Episode:
    """The account's state, its pinned strategy and contact profile, and the outbox."""

    def __init__(self, input: AccountWorkflowInput, policy: ResolvedPolicy) -> None:
        """`policy`: the documents `input.policy` names, resolved by the worker's registry."""
        self.pinned: EpisodePolicy = input.policy
        self.strategy: Strategy = policy.strategy
        self.calendars: HolidayCalendars = policy.calendars
        if input.carried is not None:
            self.s: EpisodeState = input.carried
        else:
            account = input.account
            assert account is not None  # AccountWorkflowInput requires one or the other
            self.s = EpisodeState(
                account=account,
                book=LoanBook.open(
                    account.instalments,
                    account.currency,
                    account.penalty_rate_daily,
                    policy.strategy.allocation,
                ),
            )
        self.fired: set[str] = set(self.s.fired)
        if self.s.ledger is None:
            self.s.ledger = opening_ledger(self.s.account)
        self.profile: ContactProfile = policy.profile
        self.context: BorrowerContext = context_of(self.s.account, policy.strategy)
        # The strategy's branch steps (PLAYBOOK.md sections 6-12), by id.
        self.branch_steps: dict[str, Step] = {s.id: s for s in policy.strategy.branch_steps}
        self.out = Outbox()
        # A decision that queued work or learned a fact asks the run loop for another turn.
        self.wake = False
        self.next: NextAction | None = None

    # ------------------------------------------------------------------ derived facts

    @property
    def tz(self) -> str:
        return self.s.account.borrower.timezone

    def today(self, now: datetime) -> date:
        return local_date(now, self.tz)

    def dpd(self, now: datetime) -> int:
        return self.s.book.dpd(self.today(now))

    @property
    def treatment(self) -> list[Step]:
        return self.strategy.treatment_for(self.s.account.segment)

    @property
    def slots(self) -> list[tuple[time, time]]:
        return [(s.start, s.end) for s in self.strategy.preferred_slots]

    def first_due(self) -> date:
        return min(i.due_date for i in self.s.book.instalments)

    @property
    def closed(self) -> bool:
        return self.s.state in CLOSED_STATES

    def accrued_book(self, today: date) -> LoanBook:
        """The book accrued to `today`, on a copy: checks and queries must not change state
        (the book itself is accrued only at wake-ups)."""
        book = self.s.book.model_copy(deep=True)
        if today > self.first_due():
            book.accrue_to(today)
        return book

    def attorney_phone(self, now: datetime) -> str | None:
        """The number of the attorney representing the borrower, while an attorney hold that
        names one is active (the latest named); None otherwise."""
        phones = [
            h.detail["attorney_phone"]
            for h in active_holds(self.s.holds, now)
            if h.kind == "attorney" and h.detail.get("attorney_phone")
        ]
        return phones[-1] if phones else None

    def attorney_only(self, now: datetime) -> bool:
        """Collection goes on through the attorney: the ladder is paused by attorney holds alone
        and one of them names the attorney's number. Every other hold (and an open promise or
        a restructure) still pauses everything."""
        held = active_holds(self.s.holds, now)
        return (
            self.s.promise is None
            and self.s.state != AccountState.RESTRUCTURED
            and bool(held)
            and all(h.kind == "attorney" for h in held)
            and self.attorney_phone(now) is not None
        )

    def paused(self, now: datetime) -> bool:
        """An open promise or any hold pauses the ladder; it resumes by itself when they end."""
        return (
            self.s.promise is not None
            or self.s.state == AccountState.RESTRUCTURED
            or bool(active_holds(self.s.holds, now))
        )

    def require_open(self, what: str) -> None:
        if self.closed:
            raise Refused(f"The account is {self.s.state}; cannot {what}.", NOT_ALLOWED)

    def placement_end(self) -> datetime | None:
        placement = self.s.placement
        return datetime.fromisoformat(placement["period_end"]) if placement else None

    # ------------------------------------------------------------------ the outbox

    def record_action(self, now: datetime, channel: str, detail: ActionDetail) -> None:
        """An action that is not a ladder step (a verdict, a notice, a blocked contact...); its
        kind is its detail's."""
        self.s.action_seq += 1
        self.out.actions.append(
            ActionCommand(
                seq=self.s.action_seq,
                at=now,
                kind=detail.action,
                channel=channel,
                stage=self.s.stage,
                detail=detail,
            )
        )

    def ask_person(
        self,
        now: datetime,
        task_kind: str,
        window: tuple[datetime, datetime],
        detail: ActionDetail,
        priority: Decimal,
        task_key: str | None = None,
        owner: str | None = None,
    ) -> str:
        """Work asked of a person outside the ladder (a filing approval, the review of an
        unscheduled contact, a write-off's verification or approval): an action of its detail's
        kind with the task's window, and the task remembered open until its outcome arrives or
        the window ends. The task's id."""
        self.s.action_seq += 1
        seq = self.s.action_seq
        task_id = task_id_for(self.s.account.loan_id, self.s.episode, seq)
        self.s.open_tasks.append(
            OpenTask(
                task_id=task_id,
                kind=task_kind,
                action_seq=seq,
                not_before=window[0],
                not_after=window[1],
                owner=owner,
                task_key=task_key,
            )
        )
        self.out.actions.append(
            ActionCommand(
                seq=seq,
                at=now,
                kind=detail.action,
                channel="internal",
                stage=self.s.stage,
                detail=detail,
                task_window=window,
                priority=priority,
            )
        )
        return task_id

    def record_hold(self, now: datetime, kind: str, hold: Hold, detail: dict[str, str]) -> None:
        """A hold placed or released is an action (kind, since, until, who, why), so the store
        can tell an auditor about it after Temporal's retention has dropped the history.
        `detail`: the hold's own words (reason, notes, who reported or released it)."""
        self.record_action(
            now,
            "internal",
            HoldDetail.model_validate(
                {
                    **{k: v for k, v in detail.items() if v},
                    "action": kind,
                    "hold": hold.kind,
                    "since": hold.since.isoformat(),
                    "until": hold.until.isoformat() if hold.until else None,
                }
            ),
        )

    def queue_action(
        self,
        now: datetime,
        step: Step,
        dpd: int,
        target: str | None = None,
        window: tuple[datetime, datetime] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        """A step (the ladder's or a branch's) goes out; work for a person is also remembered
        as an open task until its outcome arrives or its window ends."""
        self.s.action_seq += 1
        if step.action in TASK_KINDS and window is None:
            window = slot_window(self.today(now), step.slot, self.slots, self.tz)
            if window[1] <= now:
                window = (now, now + TASK_WINDOW)
        if step.action not in TASK_KINDS:
            window = None
        overdue = self.s.book.amount_overdue(self.today(now))
        if step.action in TASK_KINDS:
            self.s.open_tasks.append(
                OpenTask(
                    task_id=task_id_for(self.s.account.loan_id, self.s.episode, self.s.action_seq),
                    kind=TASK_KINDS[step.action],
                    action_seq=self.s.action_seq,
                    not_before=window[0] if window else None,
                    not_after=window[1] if window else None,
                    target=target,
                    slot=slot_of(window[0], self.slots, self.tz) if window else None,
                    party=str((extra or {}).get("party") or "borrower"),
                )
            )
        self.out.actions.append(
            ActionCommand(
                seq=self.s.action_seq,
                at=now,
                kind=step.action,
                channel=step.channel,
                stage=self.s.stage,
                step_id=step.id,
                template=step.template,
                # The step's model (workflows.contracts.details) refuses a field it does not
                # know: `extra` is the gate's requirements and the branch's own words.
                detail=detail_for(
                    step.action,
                    **{
                        "reason": (extra or {}).get(
                            "reason",
                            f"strategy {self.strategy.ref} step {step.id} at DPD {step.dpd}",
                        ),
                        "dpd": dpd,
                        "bucket": self.s.bucket,
                        "amount_overdue": str(overdue),
                        "currency": self.s.account.currency,
                        "task_kind": TASK_KINDS.get(step.action),
                        "to": target,
                        # Section 10: the collector the borrower complained about never gets it.
                        "never_to": list(self.s.never_assign) or None,
                        **(extra or {}),
                    },
                ),
                task_window=window,
                priority=overdue,
            )
        )

    def drop_pending(self, task_id: str) -> None:
        """A closed task's possible call no longer counts against the caps (an outcome adds
        what really happened instead)."""
        if self.s.ledger is not None:
            self.s.ledger = self.s.ledger.without_pending(task_id)

    def close_tasks(self, tasks: list[OpenTask], now: datetime, status: str, reason: str) -> None:
        """The one way open tasks end without an outcome (expired, cancelled by a hold or a
        release): they leave the open list, stop counting against the caps, and the store is
        told, each with `reason` (`{kind}` in it names the task's kind)."""
        if not tasks:
            return
        self.s.open_tasks = [t for t in self.s.open_tasks if t not in tasks]
        for task in tasks:
            self.drop_pending(task.task_id)
            self.out.task_updates.append(
                TaskUpdate(
                    task_id=task.task_id,
                    status=status,
                    at=now,
                    reason=reason.format(kind=task.kind, not_after=task.not_after),
                )
            )

    def expire_tasks(self, now: datetime) -> None:
        """Tasks whose window has passed are closed here, so no queue holds stale work."""
        expired = [t for t in self.s.open_tasks if t.not_after is not None and t.not_after <= now]
        self.close_tasks(expired, now, "expired", "the {kind} task's window ended at {not_after}")

    def signal_child(self, child_id: str, name: str, arg: object = None) -> None:
        self.out.signals.append(ChildSignal(child_id, name, arg))

    def upsert_search_attributes(self, initial: bool = False) -> None:
        self.out.search_attributes.append(
            SearchAttributes(
                self.s.state,
                self.s.bucket,
                self.s.stage,
                self.s.account.segment if initial else None,
            )
        )

    def check_payment(self, payment: PaymentIn) -> None:
        """Raise `Refused` for a payment the episode would not book, before it enters history:
        the same payment_id with another amount (409 `payment_conflict`, naming the amount on
        record, so the loan system learns instead of a second amount vanishing), an amount the
        currency cannot hold, or an episode that has closed. The same id with the same amount
        passes: it is idempotent and books nothing twice."""
        if self.closed:
            raise Refused(
                f"Account {self.s.account.loan_id} is {self.s.state}: its episode has closed "
                "and books no payment.",
                ACCOUNT_CLOSED,
            )
        on_record = self.s.book.payment_on_record(payment.payment_id)
        if on_record is not None and on_record.amount != payment.amount:
            raise Refused(
                f"Payment {payment.payment_id} is already booked for "
                f"{self.s.account.loan_id} with the amount {on_record.amount}, not "
                f"{payment.amount}; a payment_id names one payment.",
                PAYMENT_CONFLICT,
                {
                    "payment_id": payment.payment_id,
                    "amount_on_record": str(on_record.amount),
                    "amount": str(payment.amount),
                },
            )
        try:
            check_precision(payment.amount, self.s.account.currency)
        except ValueError as error:
            raise Refused(str(error), INVALID_PAYMENT) from None

    def _record_payment_conflict(
        self, now: datetime, payment: PaymentIn, on_record: Decimal
    ) -> None:
        """A payment_id already booked with another amount, met where it cannot be refused (the
        `payment` signal; the update's validator refuses it first): nothing is booked, and the
        conflict is an action the timeline shows instead of a silent drop."""
        self.record_action(
            now,
            "internal",
            PaymentConflictDetail(
                action=ActionKind.PAYMENT_CONFLICT,
                reason=f"payment {payment.payment_id} is already booked with {on_record}; "
                f"{payment.amount} under the same id was not booked",
                payment_id=payment.payment_id,
                amount_on_record=str(on_record),
                amount=str(payment.amount),
                paid_at=payment.paid_at.isoformat(),
            ),
        )
        self.wake = True  # written at once, not at the next moment

    def take_payment(self, now: datetime, payment: PaymentIn) -> bool:
        """A payment from the loan system; the same payment_id counts once. A placed account's
        payment earns its agency's commission; a restructure plan's child hears of it. True when
        this call booked it (False: a repeat, or the episode had closed)."""
        if self.closed:
            return False
        today = self.today(now)
        on_record = self.s.book.payment_on_record(payment.payment_id)
        if on_record is not None and on_record.amount != payment.amount:
            self._record_payment_conflict(now, payment, on_record.amount)
            return False
        result = self.s.book.apply_payment(payment.payment_id, payment.amount, today)
        if not result.new:
            return False
        if self.s.restructure_stage in ("offered", "accepted") and self.s.restructure_child:
            # Money paid while the offer is open counts toward the plan too (the plan's total
            # is fixed at the offer; the book counts it so when the plan is accepted).
            self.signal_child(self.s.restructure_child, "payment", payment)
        if self.s.write_off_child:
            # The write-off posts what is owed when it is approved, not when it started.
            self.signal_child(self.s.write_off_child, "balance", self.s.book.balance)
        dpd = self.s.book.dpd(today)
        placement = self.s.placement
        self.out.payments.append(
            PaymentRecord(
                payment_id=payment.payment_id,
                amount=payment.amount,
                paid_at=payment.paid_at,
                dpd=dpd,
                bucket=self.strategy.bucket_for(dpd),
                agency_id=placement["agency_id"] if placement else None,
                placement_id=placement["placement_id"] if placement else None,
                commission=quantize(
                    payment.amount * Decimal(placement["commission_rate"]),
                    self.s.account.currency,
                )
                if placement
                else None,
            )
        )
        self.wake = True
        return True

    def take_moment(self, workflow_id: str, now: datetime) -> MomentRecord:
        """The moment's effects, for one `apply_moment` activity; the outbox's share of them is
        emptied (children, signals and search attributes stay for the workflow)."""
        out = self.out
        record = MomentRecord(
            loan_id=self.s.account.loan_id,
            workflow_id=workflow_id,
            episode=self.s.episode,
            at=now,
            status=self.status(now),
            segment=self.s.account.segment,
            actions=out.actions,
            transitions=out.transitions,
            payments=out.payments,
            promises=out.promises,
            task_updates=out.task_updates,
            borrower={
                "name": self.s.account.borrower.name,
                "address": self.s.account.borrower.address,
                "locale": self.s.account.borrower.locale,
                "timezone": self.tz,
                "currency": self.s.account.currency,
            },
        )
        out.actions, out.transitions, out.payments = [], [], []
        out.promises, out.task_updates = [], []
        return record

    def carried(self, now: datetime, compact: bool = True) -> EpisodeState:
        """The state continue-as-new carries: only what a rule can still count of the ledger
        travels on (the store keeps the full record), and what no later decision reads is
        left behind (workflows/account/compaction.py; `compact=False` only for the tests that
        prove it changes no decision)."""
        self.s.fired = sorted(self.fired)
        if self.s.ledger is not None:
            self.s.ledger = self.s.ledger.pruned(self.profile.prune_before(now))
        if compact:
            compaction.compact(self.s, now, self.strategy, self.profile)
            self.fired = set(self.s.fired)
        self.s.runs += 1
        return self.s

    # ------------------------------------------------------------------ views

    def promise_view(self, promise: Promise) -> PromiseView:
        return PromiseView(
            promise_id=promise.promise_id,
            amount=promise.amount,
            promised_date=promise.promised_date,
            pay_to=promise.pay_to,
            status=promise.status,
            made_at=start_of_local_day(promise.made_on, self.tz),
            deadline=deadline(promise, self.strategy.promises),
        )

    def status(self, now: datetime) -> AccountStatus:
        """The account as of `now`, accrued on a copy."""
        today = self.today(now)
        closed = self.closed
        view = self.s.book.model_copy(deep=True)
        if not closed and today > self.first_due():
            view.accrue_to(today)
        dpd = view.dpd(today) if not closed else 0
        promise = self.s.promise
        delinquent = self.s.state == AccountState.DELINQUENT
        # A restructured account is aged by its plan: bucket from the plan's DPD.
        aged = delinquent or self.s.state == AccountState.RESTRUCTURED
        return AccountStatus(
            loan_id=self.s.account.loan_id,
            state=self.s.state,
            dpd=dpd,
            bucket=self.strategy.bucket_for(dpd) if aged else self.s.bucket,
            stage=self.strategy.stage_for(dpd) if delinquent else self.s.stage,
            amount_overdue=view.amount_overdue(today),
            penalty_accrued=view.penalty_accrued_total,
            promise=self.promise_view(promise) if promise else None,
            broken_promises=self.s.broken_count,
            holds=[
                HoldView(kind=h.kind, since=h.since, until=h.until)
                for h in active_holds(self.s.holds, now)
            ],
            next_action=None if closed else self.next,
            strategy=StrategyRef(name=self.strategy.name, version=self.strategy.version),
            currency=self.s.account.currency,
            paid_total=view.paid_total,
            balance=view.balance,
            path=list(self.s.path),
            as_of=now,
            holder=self.s.holder,
            agency=self.s.placement["agency"] if self.s.placement else None,
            agency_period_end=self.placement_end(),
            legal_case=self.s.legal_case,
            unrecorded_moments=self.s.unrecorded_moments,
            policy=[
                ref.label()
                for ref in (self.pinned.strategy, self.pinned.profile, *self.pinned.calendars)
            ],
            instalments=schedule.instalment_views(view, today),
            restructure=schedule.restructure_view(
                self.s.restructure_stage, self.s.offer, view, self._paid_since_offer(view), today
            ),
        )

    def _paid_since_offer(self, book: LoanBook) -> Decimal:
        """What the borrower paid since the open offer was made (it counts toward the plan)."""
        since = self.s.offer_payments_from
        if since is None:
            return Decimal(0)
        return sum((p.amount for p in book.payments[since:]), Decimal(0))


def hold_key(hold: Hold) -> str:
    """A hold's identity across runs: its kind and the instant it started."""
    return f"{hold.kind}@{hold.since.isoformat()}"
