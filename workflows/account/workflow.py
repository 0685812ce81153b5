"""AccountWorkflow: one delinquent loan account from pre-1day until it is paid, cured or closed.

This class waits and receives. It sleeps until the next moment that matters or a message, lets
the decision modules bring the `Episode` up to the workflow's clock, and has `EpisodeEffects`
(effects.py) carry out what they left in the outbox: one `apply_moment` activity per moment,
child workflows and their signals, search-attribute upserts; continue-as-new is decided here.
Handlers check (validators) and decide (plain `def`s: none awaits, so none needs a lock); the run
loop alone awaits.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.account import PaymentIn
    from domain.policy import installed_registry
    from domain.vocabulary import AccountState
    from workflows.account import (
        agency_legal,
        borrower,
        cases,
        compliance,
        consolidation,
        deliveries,
        holds,
        ladder,
        outcomes,
        promises,
        subflows,
    )
    from workflows.account.effects import EpisodeEffects
    from workflows.account.episode import NO_OPEN_OFFER, NO_PLACEMENT, NOT_ALLOWED, Episode
    from workflows.contracts import (
        ACCOUNT_WORKFLOW,
        AccountQuery,
        AccountSignal,
        AccountStatus,
        AccountUpdate,
        AccountWorkflowInput,
        AgencyContactsRequest,
        AgencyContactsResult,
        AgencyRecallRequest,
        AgencyRecallResult,
        ComplianceStatus,
        ContactEvent,
        ContactInfoRequest,
        ContactInfoResult,
        HardshipRequest,
        HardshipResult,
        HoldRelease,
        HoldRequest,
        HoldView,
        InstalmentsIn,
        PaymentBooked,
        PromiseRequest,
        PromiseView,
        ReassignRequest,
        ReassignResult,
        RestructureAnswer,
        RestructureAnswerResult,
        SubflowEvent,
        TaskOutcome,
        TaskOutcomeResult,
    )
    from workflows.contracts.borrowers import (
        BorrowerChannelsSignal,
        BorrowerHolderSignal,
        BorrowerHoldSignal,
        BorrowerOutcomeSignal,
        BorrowerSignal,
        BorrowerWithdrawSignal,
    )
    from workflows.contracts.cases import (
        CaseAnswer,
        CaseEvidenceRequest,
        CaseResolution,
        HoldPlaced,
    )
    from workflows.refusals import check, refusing


@workflow.defn(name=ACCOUNT_WORKFLOW)
class AccountWorkflow:
    @workflow.init
    def __init__(self, input: AccountWorkflowInput) -> None:
        # A reference this worker cannot match exactly raises UnknownPolicy: the workflow task
        # fails and is retried until a worker that has the policy runs (docs/policy.md).
        self._ep = Episode(input, input.policy.resolve(installed_registry()))
        self._fx = EpisodeEffects(self._ep)

    # ------------------------------------------------------------------ the main loop

    @workflow.run
    async def run(self, input: AccountWorkflowInput) -> AccountStatus:
        ep = self._ep
        if input.carried is None:
            ep.s.episode = workflow.info().first_execution_run_id
            ep.s.opened_at = workflow.now()
            ep.upsert_search_attributes(initial=True)
            self._fx.upsert_search_attributes()
        while True:
            now = workflow.now()
            # Cleared before acting, not before sleeping: a message that arrives while this
            # turn awaits an activity must wake the next turn at once.
            ep.wake = False
            stage_before = ep.s.stage
            ladder.advance(ep, now)
            self._fx.upsert_search_attributes()
            if ep.out.has_moment():
                await self._fx.flush(now)
            else:
                await self._fx.tell_borrower_numbers(now)
            cancelled = subflows.cancel_children(ep) if ep.closed else []
            await self._fx.run_subflow_commands(now)
            if ep.closed:
                await self._fx.await_children(cancelled)
                await workflow.wait_condition(workflow.all_handlers_finished)
                if ep.out.has_moment():
                    await self._fx.flush(workflow.now())
                return ep.status(workflow.now())
            wake_at = ladder.plan_next(ep, now)
            if self._should_continue_as_new(stage_before):
                policy = await self._fx.policy_for_next_run(now)
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not ep.out.has_moment():
                    workflow.continue_as_new(
                        AccountWorkflowInput(
                            policy=policy,
                            carried=ep.carried(workflow.now()),
                        ),
                        initial_versioning_behavior=self._fx.upgrade_at_continue_as_new(),
                    )
                continue
            timeout = (wake_at - now) if wake_at is not None else None
            # A timeout means the moment came; the next turn of the loop acts on it.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: ep.wake, timeout=timeout)

    def _should_continue_as_new(self, stage_before: str) -> bool:
        """At a stage boundary (a safe point: everything flushed) or when the server suggests it,
        so a 180-day episode is a chain of short histories."""
        s = self._ep.s
        crossed_stage = s.state == AccountState.DELINQUENT and stage_before not in (
            s.stage,
            "pre_due",
        )
        if s.restructure_child or s.write_off_child:
            # Not while a subflow runs: it reports by signal, and a signal to a chain that
            # moved on mid-conversation stalls the time-skipping test server. Subflows are
            # short next to an episode, and are abandoned (not terminated) should one overlap.
            return False
        return crossed_stage or workflow.info().is_continue_as_new_suggested()

    def _decided(self) -> None:
        """After a handler's decision: its transitions' search attributes now, and another
        turn of the run loop for what it queued."""
        self._fx.upsert_search_attributes()
        self._ep.wake = True

    # ------------------------------------------------------------------ money and promises

    @workflow.signal(name=AccountSignal.PAYMENT)
    def payment(self, payment: PaymentIn) -> None:
        """A payment as a signal (episodes started before the update; the API's fallback while
        no worker answers): the same payment_id counts once; another amount under it books
        nothing and is recorded as a `payment_conflict` action (a signal cannot be refused)."""
        self._ep.take_payment(workflow.now(), payment)

    @workflow.update(name=AccountUpdate.PAYMENT)
    def record_payment(self, payment: PaymentIn) -> PaymentBooked:
        """A payment from the loan system, answered: the workflow is the one place that knows
        every payment_id it booked, so two reports racing with one id cannot both pass."""
        return PaymentBooked(booked=self._ep.take_payment(workflow.now(), payment))

    @record_payment.validator
    def _validate_payment(self, payment: PaymentIn) -> None:
        check(lambda: self._ep.check_payment(payment))

    @workflow.signal(name=AccountSignal.INSTALMENTS)
    def instalments(self, update: InstalmentsIn) -> None:
        """New or changed instalments: they fall due in turn while the account is open."""
        if self._ep.closed:
            return
        self._ep.s.book.add_instalments(update.instalments, self._ep.today(workflow.now()))
        self._ep.wake = True

    @workflow.update(name=AccountUpdate.PROMISE)
    def promise(self, request: PromiseRequest) -> PromiseView:
        """A promise to pay; the validator refuses bad ones before they enter history."""
        now = workflow.now()
        view = promises.make_promise(self._ep, now, request.promise)
        if request.conversation:
            deliveries.record_conversation(self._ep, now, request.number)
        self._decided()
        return view

    @promise.validator
    def _validate_promise(self, request: PromiseRequest) -> None:
        check(
            lambda: promises.check_promise(
                self._ep, workflow.now(), request.promise, request.supervisor_override
            )
        )

    @workflow.update(name=AccountUpdate.HARDSHIP)
    def hardship(self, request: HardshipRequest) -> HardshipResult:
        """Unable to pay, reported outside a task (section 9)."""
        now = workflow.now()
        ep = self._ep
        effect = outcomes.after_hardship(
            ep, now, request.hardship, request.recorded_by, ep.dpd(now)
        )
        if request.conversation:
            deliveries.record_conversation(ep, now, request.number)
        self._decided()
        return HardshipResult(effect=effect)

    @hardship.validator
    def _validate_hardship(self, request: HardshipRequest) -> None:
        now = workflow.now()
        with refusing():
            self._ep.require_open("record a hardship")
            holds.check_offer_allowed(self._ep, now, request.hardship)
            promises.check_plan(self._ep, now, request.hardship)

    @workflow.update(name=AccountUpdate.RESTRUCTURE_ANSWER)
    def restructure_answer(self, request: RestructureAnswer) -> RestructureAnswerResult:
        """The borrower's answer to the open restructure offer, passed to the subflow."""
        now = workflow.now()
        outcomes.answer_offer(self._ep, now, request.decision, request.recorded_by)
        if request.conversation:
            deliveries.record_conversation(self._ep, now, request.number)
        self._decided()
        return RestructureAnswerResult(
            decision=request.decision, offer=str(self._ep.s.restructure_child)
        )

    @restructure_answer.validator
    def _validate_restructure_answer(self, request: RestructureAnswer) -> None:
        if self._ep.s.restructure_stage != "offered":
            raise ApplicationError(
                "There is no open restructure offer on this account.",
                type=NO_OPEN_OFFER,
                non_retryable=True,
            )

    # ------------------------------------------------------------------ work for people

    @workflow.update(name=AccountUpdate.TASK_OUTCOME)
    def task_outcome(self, request: TaskOutcome) -> TaskOutcomeResult:
        """A person's outcome for a task this workflow created; counted once per task id."""
        # (An outcome counted before changes nothing, and does not wake the run loop.)
        # On a task naming several loans of the borrower it applies to each (consolidation).
        now, task = workflow.now(), consolidation.open_task(self._ep, request.task_id)
        answer = outcomes.take_outcome(
            self._ep, now, consolidation.own_share(self._ep, now, request)
        )
        consolidation.share_outcome(self._ep, now, task, request)
        self._fx.upsert_search_attributes()
        return answer

    @task_outcome.validator
    def _validate_task_outcome(self, request: TaskOutcome) -> None:
        now = workflow.now()
        check(
            lambda: outcomes.check_task_outcome(
                self._ep, now, consolidation.own_share(self._ep, now, request)
            )
        )

    @workflow.update(name=AccountUpdate.REASSIGN)
    def reassign(self, request: ReassignRequest) -> ReassignResult:
        """Section 5: a supervisor reassigns the account, or a collector hands it to the team
        lead; the new holder gets the account's open work (a `reassignment` action)."""
        result = outcomes.reassign(self._ep, workflow.now(), request)
        self._decided()
        return result

    @reassign.validator
    def _validate_reassign(self, request: ReassignRequest) -> None:
        check(lambda: self._ep.require_open("reassign the account"))
        if request.to in self._ep.s.never_assign:
            raise ApplicationError(
                f"{request.to} may not hold account {self._ep.s.account.loan_id}: the borrower "
                "complained about them (collector grievance).",
                type=NOT_ALLOWED,
                non_retryable=True,
            )

    # ------------------------------------------------------------------ holds and agencies

    @workflow.update(name=AccountUpdate.ADD_HOLD)
    def add_hold(self, request: HoldRequest) -> HoldPlaced:
        """A hold stops what its kind forbids at once; it stacks with the others."""
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
        hold = holds.add_hold(self._ep, workflow.now(), request.kind, detail)
        case = cases.open_case(self._ep, workflow.now(), hold)
        self._decided()
        return HoldPlaced(
            kind=hold.kind,
            since=hold.since,
            until=hold.until,
            case_id=case.case_id if case else None,
            deadline=case.deadline if case else None,
        )

    @add_hold.validator
    def _validate_add_hold(self, request: HoldRequest) -> None:
        check(lambda: self._ep.require_open("record a hold"))

    @workflow.update(name=AccountUpdate.RELEASE_HOLD)
    def release_hold(self, release: HoldRelease) -> HoldView:
        """Ends the open holds of this kind; collection resumes when the last hold ends."""
        ended = holds.release_hold(self._ep, workflow.now(), release)
        self._decided()
        return HoldView(kind=ended.kind, since=ended.since, until=ended.until)

    @release_hold.validator
    def _validate_release_hold(self, release: HoldRelease) -> None:
        check(lambda: holds.check_release(self._ep, workflow.now(), release))

    @workflow.update(name=AccountUpdate.CASE_EVIDENCE)
    def case_evidence(self, request: CaseEvidenceRequest) -> CaseAnswer:
        """Evidence for an open dispute or complaint case (workflows/account/cases.py)."""
        return cases.add_evidence(self._ep, workflow.now(), request)

    @case_evidence.validator
    def _validate_case_evidence(self, request: CaseEvidenceRequest) -> None:
        check(lambda: cases.check_open(self._ep, request.case_id))

    @workflow.update(name=AccountUpdate.RESOLVE_CASE)
    def resolve_case(self, request: CaseResolution) -> CaseAnswer:
        """Upheld (an adjustment off the balance) or rejected; collection resumes either way."""
        answer = cases.resolve(self._ep, workflow.now(), request)
        self._decided()
        return answer

    @resolve_case.validator
    def _validate_resolve_case(self, request: CaseResolution) -> None:
        check(lambda: cases.check_resolution(self._ep, workflow.now(), request))

    @workflow.update(name=AccountUpdate.RECALL_AGENCY)
    def recall_agency(self, request: AgencyRecallRequest) -> AgencyRecallResult:
        """A supervisor takes the account back from its agency before the period ends."""
        ep = self._ep
        placement = ep.s.placement
        assert placement is not None  # the validator refused otherwise
        now = workflow.now()
        agency_legal.recall(
            ep,
            now,
            f"requested by {request.requested_by}: {request.reason}",
            replace=not ep.paused(now),
        )
        self._decided()
        return AgencyRecallResult(
            recalled_from=placement["agency_id"], placement_id=placement["placement_id"]
        )

    @recall_agency.validator
    def _validate_recall_agency(self, request: AgencyRecallRequest) -> None:
        check(lambda: self._ep.require_open("recall the account from its agency"))
        if self._ep.s.placement is None:
            raise ApplicationError(
                f"Account {self._ep.s.account.loan_id} is not placed with an agency.",
                type=NO_PLACEMENT,
                non_retryable=True,
            )

    @workflow.update(name=AccountUpdate.AGENCY_CONTACTS)
    def agency_contacts(self, request: AgencyContactsRequest) -> AgencyContactsResult:
        """Contacts an agency made join the contact ledger (counted once per contact id)."""
        return agency_legal.record_agency_contacts(self._ep, workflow.now(), request)

    @agency_contacts.validator
    def _validate_agency_contacts(self, request: AgencyContactsRequest) -> None:
        check(lambda: self._ep.require_open("record agency contacts"))

    # ------------------------------------------------------------------ contact facts

    @workflow.update(name=AccountUpdate.CONTACT_INFO)
    def contact_info(self, request: ContactInfoRequest) -> ContactInfoResult:
        """New numbers join the rotation, dead ones leave it, consents change at once."""
        result = deliveries.apply_contact_info(self._ep, request.info)
        self._decided()
        return result

    @contact_info.validator
    def _validate_contact_info(self, request: ContactInfoRequest) -> None:
        check(lambda: self._ep.require_open("change contact details"))

    @workflow.signal(name=AccountSignal.CONTACT_EVENT)
    def contact_event(self, event: ContactEvent) -> None:
        """Facts from the channels (delivery callbacks, inbound replies)."""
        deliveries.on_contact_event(self._ep, workflow.now(), event)

    @workflow.signal(name=BorrowerSignal.HOLD)
    def borrower_hold(self, message: BorrowerHoldSignal) -> None:
        """A borrower hold placed or released on another of the borrower's loans."""
        if borrower.apply_borrower_hold(self._ep, workflow.now(), message):
            self._decided()

    @workflow.signal(name=BorrowerSignal.HOLDER)
    def borrower_holder(self, message: BorrowerHolderSignal) -> None:
        """Another loan of the borrower was reassigned or escalated: this one follows."""
        if borrower.apply_borrower_holder(self._ep, workflow.now(), message):
            self._decided()

    @workflow.signal(name=BorrowerSignal.CHANNELS)
    def borrower_channels(self, message: BorrowerChannelsSignal) -> None:
        """The person's numbers or consents changed on another of the borrower's loans."""
        if self._fx.take_borrower_numbers(message):
            self._decided()

    @workflow.signal(name=BorrowerSignal.WITHDRAW)
    def borrower_withdraw(self, message: BorrowerWithdrawSignal) -> None:
        """Open calls that the borrower's contacts on other loans now bar."""
        if borrower.withdraw_barred_tasks(self._ep, workflow.now(), message):
            self._decided()

    @workflow.signal(name=BorrowerSignal.OUTCOME)
    def borrower_outcome(self, message: BorrowerOutcomeSignal) -> None:
        """An outcome on another loan's call task that names this loan too."""
        if consolidation.apply_shared_outcome(self._ep, workflow.now(), message):
            self._decided()

    # ------------------------------------------------------------------ subflows

    @workflow.signal(name=AccountSignal.SUBFLOW_EVENT)
    def subflow_event(self, event: SubflowEvent) -> None:
        """What a child reports; the parent records it and moves the account's state."""
        subflows.on_event(self._ep, workflow.now(), subflows.parse(event))
        self._decided()

    @workflow.query(name=AccountQuery.STATUS)
    def status(self, as_of: datetime | None = None) -> AccountStatus:
        """The account as of the caller's business time (a query runs at the time of the last
        workflow task, which may be days old while the workflow sleeps); never earlier than the
        workflow's own clock."""
        now = workflow.now() if as_of is None else max(as_of, workflow.now())
        return self._ep.status(now)

    @workflow.query(name=AccountQuery.COMPLIANCE)
    def gate_status(self, as_of: datetime | None = None) -> ComplianceStatus:
        """What the compliance gate allows next on each channel as of the caller's business
        time (issue 15): read-only, so it adds nothing to the history."""
        now = workflow.now() if as_of is None else max(as_of, workflow.now())
        return compliance.compliance_status(self._ep, now)
