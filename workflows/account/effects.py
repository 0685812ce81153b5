"""What AccountWorkflow does with Temporal once the decision modules have decided.

The workflow class (workflow.py) waits and receives; this module acts: one `apply_moment`
activity per moment after the borrower's authority has granted its contacts, the children and
signals the handlers queued, search-attribute upserts, and the policy pins for the next run.
It is workflow code (it imports temporalio and runs inside the sandbox), which is why it is not
one of the pure decision modules (workflows.account.DECISION_MODULES).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.policy import (
        FIND_CALENDARS,
        EpisodePolicy,
        PolicyRef,
        calendars_to_find,
        repin_calendars,
    )
    from workflows.account import borrower, deliveries, subflows
    from workflows.account.episode import Episode
    from workflows.contracts import INVALID_MOMENT
    from workflows.contracts.borrowers import (
        BORROWER_CONFLICT,
        REQUEST_GRANTS,
        BorrowerChannelsSignal,
        GrantResult,
    )

STATE_KEY = SearchAttributeKey.for_keyword("ArrearsState")
BUCKET_KEY = SearchAttributeKey.for_keyword("ArrearsBucket")
STAGE_KEY = SearchAttributeKey.for_keyword("ArrearsStage")
SEGMENT_KEY = SearchAttributeKey.for_keyword("ArrearsSegment")

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[INVALID_MOMENT],
)
# Asking the borrower's authority (docs/borrowers.md) is retried until it answers: nothing of
# the moment goes out before it has.
GRANT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[BORROWER_CONFLICT],
)
# How long a closing episode waits for a cancelled subflow to end before ending anyway.
CHILD_CLOSE_TIMEOUT = timedelta(minutes=10)


class EpisodeEffects:
    """The Temporal side of one run: what it remembers between awaits (the children's handles,
    what the borrower's authority last heard) lives here, not in the episode's carried state."""

    def __init__(self, ep: Episode) -> None:
        self._ep = ep
        self._child_handles: dict[str, workflow.ChildWorkflowHandle[Any, Any]] = {}
        # What the loan and its borrower last exchanged: its contact records as the borrower
        # heard them, the person's numbers and consents as the loan took them (borrowers.md).
        self._told_borrower: borrower.Told | None = None

    async def policy_for_next_run(self, now: datetime) -> EpisodePolicy:
        """The calendars re-pinned to the local year and the next (docs/policy.md): the years
        still wanted keep their pinned versions; a year missing from the pin is asked of the
        worker's directory (a local activity, so the answer is in the history)."""
        ep = self._ep
        today = ep.today(now)
        jurisdiction = ep.s.account.jurisdiction or ep.strategy.jurisdiction
        query = calendars_to_find(ep.pinned, jurisdiction, today)
        found: list[PolicyRef] = []
        if query is not None:
            found = await workflow.execute_local_activity(
                FIND_CALENDARS,
                query,
                result_type=list[PolicyRef],
                start_to_close_timeout=timedelta(seconds=10),
            )
        return repin_calendars(ep.pinned, today, found)

    @staticmethod
    def upgrade_at_continue_as_new() -> workflow.ContinueAsNewVersioningBehavior | None:
        """An episode is pinned to the build that started it (Worker Versioning); at a stage
        boundary it moves to the deployment's current build, if that changed, by continuing as
        new with auto-upgrade (docs/versioning.md)."""
        if workflow.info().is_target_worker_deployment_version_changed():
            return workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE
        return None

    async def flush(self, now: datetime) -> None:
        """One activity carries all of this moment's effects (DESIGN.md: cheap episodes)."""
        await self._ask_borrower(now)
        record = self._ep.take_moment(workflow.info().workflow_id, now)
        try:
            result = await workflow.execute_activity(
                "apply_moment",
                record,
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=30),  # activities/liveness.py
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as error:
            if not isinstance(error.cause, ApplicationError) or error.cause.type != INVALID_MOMENT:
                raise
            # Retrying cannot help and failing would end the episode: count it and go on.
            self._ep.s.unrecorded_moments += 1
            workflow.logger.error("moment at %s not recorded: %s", now, error.cause.message)
            return
        deliveries.learn_from_deliveries(self._ep, workflow.now(), record.actions, result)

    async def _ask_borrower(self, now: datetime) -> None:
        """A loan with a borrower id has its moment's contacts granted by the borrower's
        authority before they are written (workflows/account/borrower.py); others never ask."""
        ep = self._ep
        asked: set[str] = set()
        # Until nothing is left unasked: a message handled while this awaited the answer may
        # have queued another contact, and the moment is written right after the last answer.
        while (request := borrower.grant_request(ep, self._told_borrower, asked)) is not None:
            asked |= {c.grant_id for c in request.candidates}
            asked |= {e.key for e in request.hold_events}
            asked |= {e.key for e in request.holder_events}
            try:
                result = await workflow.execute_activity(
                    REQUEST_GRANTS,
                    args=[borrower.borrower_id(ep), request],
                    result_type=GrantResult,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=GRANT_RETRY,
                )
            except ActivityError as error:
                result = borrower.refuse_all(request, str(error.cause or error))
            told = self._told_borrower
            self._told_borrower = borrower.apply_answers(ep, now, request, result, told)

    async def tell_borrower_numbers(self, now: datetime) -> None:
        """In a moment that writes nothing (a dead number's outcome, a STOP): a loan whose
        numbers or consents changed tells its borrower anyway, for the other loans."""
        if borrower.channels_changed(self._ep, self._told_borrower):
            await self._ask_borrower(now)

    def take_borrower_numbers(self, message: BorrowerChannelsSignal) -> bool:
        """Another loan changed the person's numbers or consents: this loan takes them; True
        when its ledger changed."""
        self._told_borrower, changed = borrower.adopt_channels(
            self._ep, workflow.now(), self._told_borrower, message.channels
        )
        return changed

    def upsert_search_attributes(self) -> None:
        """The transitions' state, bucket and stage, in order, as search attributes."""
        pending, self._ep.out.search_attributes = self._ep.out.search_attributes, []
        for attributes in pending:
            pairs: list[SearchAttributeUpdate[str]] = [
                STATE_KEY.value_set(attributes.state),
                BUCKET_KEY.value_set(attributes.bucket),
                STAGE_KEY.value_set(attributes.stage),
            ]
            if attributes.segment is not None:
                pairs.append(SEGMENT_KEY.value_set(attributes.segment))
            workflow.upsert_search_attributes(pairs)

    async def run_subflow_commands(self, now: datetime) -> None:
        """Start the children and send the signals that handlers decided on. Children are
        abandoned on purpose when this run continues as new: they report to the workflow id,
        which always reaches the current run."""
        ep = self._ep
        while (child := subflows.next_child(ep, now, workflow.info().workflow_id)) is not None:
            self._child_handles[child.child_id] = await workflow.start_child_workflow(
                child.workflow,
                child.input,
                id=child.child_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        while ep.out.signals:
            signal = ep.out.signals.pop(0)
            handle = workflow.get_external_workflow_handle(signal.child_id)
            await (
                handle.signal(signal.name)
                if signal.arg is None
                else handle.signal(signal.name, signal.arg)
            )

    async def await_children(self, children: list[str]) -> None:
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
