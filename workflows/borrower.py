"""BorrowerWorkflow: the one contact authority of a borrower with several loans (docs/borrowers.md).

Long-lived, id `borrower-<borrower_id>`, started by the first message that needs it (the loan's
registration, or a grant request, both sent with update-with-start). It owns the borrower's
contact ledger across loans and the borrower holds, and answers by **update**: Temporal runs one
update handler at a time on a workflow, and these handlers never await, so each grant is decided
against every contact granted before it; two loans cannot both take the last allowed contact.

The decisions are `domain.contact.borrower`'s; this class only receives, keeps the book, passes
a changed hold on to the other loans (signals, from the run loop) and continues as new with the
rolling window when its history grows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.calendar import local_date, start_of_local_day
    from domain.contact.borrower import (
        BorrowerBook,
        BorrowerFacts,
        apply_hold_event,
        apply_holder_event,
        barred_pending_calls,
        caps_left,
        conflicts,
        contacts_between,
        decide_grants,
    )
    from domain.contact.consolidation import ConsolidationBook
    from domain.contact.context import BorrowerContext
    from domain.contact.holds import active_holds
    from domain.contact.person_channels import channels_of, learn
    from domain.policy import EpisodePolicy, ResolvedPolicy, installed_registry
    from workflows import borrower_consolidation as consolidating
    from workflows.contracts import borrowers as contract
    from workflows.contracts.borrowers import (
        BORROWER_CONFLICT,
        BORROWER_WORKFLOW,
        BorrowerChannelsSignal,
        BorrowerHolderSignal,
        BorrowerHoldSignal,
        BorrowerInput,
        BorrowerQuery,
        BorrowerSignal,
        BorrowerUpdate,
        BorrowerView,
        BorrowerWithdrawSignal,
        GrantRequest,
        GrantResult,
        LoanRegistration,
    )
    from workflows.contracts.inputs import workflow_id_for

# How far back the book is kept when no profile is known yet (longer than any rule window).
DEFAULT_RETENTION = timedelta(days=35)


@workflow.defn(name=BORROWER_WORKFLOW)
class BorrowerWorkflow:
    @workflow.init
    def __init__(self, input: BorrowerInput) -> None:
        self._id = input.borrower_id
        self._book = input.book or BorrowerBook()
        self._loans: list[str] = list(input.loans)
        self._policy: EpisodePolicy | None = input.policy
        self._context = input.context
        self._resolved: dict[str, ResolvedPolicy] = {}
        self._outgoing: list[tuple[str, BorrowerSignal, BaseModel]] = []
        # Tasks already asked to withdraw (again only after a continue-as-new: harmless).
        self._withdrawn: set[str] = set()
        # One message per channel and day, one call task for the person (docs/borrowers.md).
        self._consolidation = input.consolidation or ConsolidationBook()

    @workflow.run
    async def run(self, input: BorrowerInput) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._outgoing) or self._should_renew())
            while self._outgoing:
                workflow_id, name, message = self._outgoing.pop(0)
                handle = workflow.get_external_workflow_handle(workflow_id)
                try:
                    await handle.signal(name, message)
                except ApplicationError as error:
                    # The loan's episode has ended: nothing to hold or withdraw there.
                    workflow.logger.info("%s not passed to %s: %s", name, workflow_id, error)
            if self._should_renew():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._outgoing:
                    continue
                now = workflow.now()
                retention = (
                    self._resolve(self._policy).profile.prune_before(now)
                    if self._policy is not None
                    else now - DEFAULT_RETENTION
                )
                workflow.continue_as_new(
                    BorrowerInput(
                        borrower_id=self._id,
                        book=self._book.pruned(retention),
                        loans=self._loans,
                        policy=self._policy,
                        context=self._context,
                        consolidation=self._consolidation.pruned(retention),
                    ),
                    initial_versioning_behavior=(
                        workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE
                        if workflow.info().is_target_worker_deployment_version_changed()
                        else None
                    ),
                )

    def _should_renew(self) -> bool:
        info = workflow.info()
        limit = contract.HISTORY_LIMIT
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > limit
            # A new build is current (docs/versioning.md): move to it at once, pinned there.
            or info.is_target_worker_deployment_version_changed()
        )

    def _resolve(self, policy: EpisodePolicy) -> ResolvedPolicy:
        key = policy.model_dump_json()
        if key not in self._resolved:
            self._resolved[key] = policy.resolve(installed_registry())
        return self._resolved[key]

    def _join(self, loan_id: str, facts: BorrowerFacts) -> None:
        if self._book.facts is None:
            self._book = self._book.model_copy(update={"facts": facts})
        if loan_id not in self._loans:
            self._loans.append(loan_id)

    def _check_facts(self, loan_id: str, facts: BorrowerFacts) -> None:
        found = conflicts(self._book.facts, facts)
        if found:
            raise ApplicationError(
                f"Borrower {self._id} cannot take loan {loan_id}: " + "; ".join(found) + ".",
                {"borrower_id": self._id, "loan_id": loan_id, "conflicts": found},
                type=BORROWER_CONFLICT,
                non_retryable=True,
            )

    # ------------------------------------------------------------------ updates

    @workflow.update(name=BorrowerUpdate.REGISTER)
    def register_loan(self, registration: LoanRegistration) -> BorrowerView:
        """A loan joins its borrower (at its start); its facts agree with the others'."""
        self._join(registration.loan_id, registration.facts)
        self._consolidation = consolidating.registered(self._consolidation, registration)
        return self.view(None)

    @register_loan.validator
    def _validate_register(self, registration: LoanRegistration) -> None:
        self._check_facts(registration.loan_id, registration.facts)

    def _tell_other_loans(self, from_loan: str, signal: BorrowerSignal, message: BaseModel) -> None:
        """Queue `message` for every loan of the borrower but the one it came from."""
        for loan in self._loans:
            if loan != from_loan:
                self._outgoing.append((workflow_id_for(loan), signal, message))

    @workflow.update(name=BorrowerUpdate.GRANT)
    def grant_contacts(self, request: GrantRequest) -> GrantResult:
        """Holds reported on the loan first (they bind the candidates too), a new holder, then each
        candidate against every contact of the borrower; the loan's records replace the ones
        it reported before (outcomes count as they happened)."""
        now = workflow.now()
        self._join(request.loan_id, request.facts)
        self._policy, self._context = request.policy, request.context
        for event in request.hold_events:
            self._book, changed = apply_hold_event(self._book, event)
            if not changed:
                continue
            message = BorrowerHoldSignal(
                borrower_id=self._id,
                kind=event.kind,
                placed=event.placed,
                at=event.at,
                from_loan=event.loan_id,
                detail=event.detail,
            )
            self._tell_other_loans(event.loan_id, BorrowerSignal.HOLD, message)
        for moved in request.holder_events:
            self._book, changed = apply_holder_event(self._book, moved)
            if not changed:
                continue
            holder = BorrowerHolderSignal(
                borrower_id=self._id,
                to=moved.to,
                kind=moved.kind,
                reason=moved.reason,
                from_loan=moved.loan_id,
            )
            self._tell_other_loans(moved.loan_id, BorrowerSignal.HOLDER, holder)
        self._learn_channels(request)
        resolved = self._resolve(request.policy)
        self._consolidation, covered, rest = consolidating.before_grants(
            self._consolidation, self._book, request
        )
        self._book, decided = decide_grants(
            self._book,
            request.loan_id,
            request.ledger,
            rest.candidates,
            resolved.profile,
            request.context,
            resolved.calendars,
        )
        self._consolidation, answers, names = consolidating.after_grants(
            self._consolidation, request, covered, decided
        )
        self._consolidation, shared = consolidating.outcome_signals(
            self._consolidation, self._id, request
        )
        for loan, outcome in shared:
            self._outgoing.append((workflow_id_for(loan), BorrowerSignal.OUTCOME, outcome))
        self._withdraw_barred(now, request.context, resolved)
        return GrantResult(
            answers=answers,
            holds=active_holds(self._book.holds, now),
            holder=self._book.holder,
            covered=covered,
            names=names,
            channels=self._book.channels,
        )

    def _learn_channels(self, request: GrantRequest) -> None:
        """A number dead, STOP'd or unable to take texts, or a consent withdrawn or given again,
        on the asking loan is the person's: the book takes it and every other loan is told."""
        before = self._book.channels
        after = learn(before, request.channels_base, channels_of(request.ledger))
        if after.version == before.version:
            return
        self._book = self._book.model_copy(update={"channels": after})
        message = BorrowerChannelsSignal(
            borrower_id=self._id, channels=after, from_loan=request.loan_id
        )
        self._tell_other_loans(request.loan_id, BorrowerSignal.CHANNELS, message)

    def _withdraw_barred(
        self, now: datetime, context: BorrowerContext, resolved: ResolvedPolicy
    ) -> None:
        """Open call tasks that the person's contacts now bar are withdrawn by their loans."""
        found = barred_pending_calls(self._book, now, resolved.profile, context, resolved.calendars)
        by_loan: dict[tuple[str, str], list[str]] = {}
        for item in found:
            if item.task_id not in self._withdrawn:
                self._withdrawn.add(item.task_id)
                by_loan.setdefault((item.loan_id, item.rule), []).append(item.task_id)
        for (loan, rule), task_ids in sorted(by_loan.items()):
            message = BorrowerWithdrawSignal(borrower_id=self._id, task_ids=task_ids, rule=rule)
            self._outgoing.append((workflow_id_for(loan), BorrowerSignal.WITHDRAW, message))

    @grant_contacts.validator
    def _validate_grant(self, request: GrantRequest) -> None:
        self._check_facts(request.loan_id, request.facts)

    # ------------------------------------------------------------------ query

    @workflow.query(name=BorrowerQuery.VIEW)
    def view(self, as_of: datetime | None = None) -> BorrowerView:
        """Loans, holds, and today's contacts (in the borrower's zone) across every loan."""
        now = workflow.now() if as_of is None else max(as_of, workflow.now())
        tz = self._book.facts.timezone if self._book.facts else "UTC"
        today = local_date(now, tz)
        left: dict[str, int] = {}
        if self._policy is not None:
            left = caps_left(self._book, self._resolve(self._policy).profile, tz, today)
        start = start_of_local_day(today, tz)
        return BorrowerView(
            borrower_id=self._id,
            loans=list(self._loans),
            holds=active_holds(self._book.holds, now),
            contacts_today=contacts_between(self._book, start, start + timedelta(days=1)),
            contacts_left=left,
            as_of=now,
        )
