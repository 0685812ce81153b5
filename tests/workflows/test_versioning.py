"""Replayable forever (DESIGN.md; docs/versioning.md): a change to a workflow decision breaks the
histories recorded before it (the 1.0 baseline, tests/histories/1.0) unless it is put behind
`workflow.patched`, and behind the patch the new decision still runs for new episodes.

The change under test is real and plausible: "tell the loan system the moment an account enters
collection" — one extra activity in the workflow task that moves pre_due → delinquent. Every
committed history of an episode that went delinquent scheduled `apply_moment` at that point.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from audit.replay import LabeledHistory, load_histories, replay_histories
from core.settings import Settings
from tests.workflows.helpers import account_json, business_today, sleep_until, start
from worker.main import workflow_runner
from workflows.account import AccountWorkflow
from workflows.account.effects import EpisodeEffects
from workflows.account.episode import Episode
from workflows.contracts import AccountStatus, AccountWorkflowInput

from .test_replay import HISTORIES

PATCH_ID = "notify-loan-system-on-delinquency"
HISTORY_ROOT = HISTORIES[0].parent.parent  # tests/histories: every recorded version
NOTIFIED: list[str] = []


@activity.defn(name="notify_loan_system")
async def notify_loan_system(loan_id: str) -> None:
    NOTIFIED.append(loan_id)


def _entering_collection(ep: Episode) -> bool:
    return any(t.from_state == "pre_due" and t.to_state == "delinquent" for t in ep.out.transitions)


async def _notify(ep: Episode) -> None:
    await workflow.execute_activity(
        notify_loan_system,
        ep.s.account.loan_id,
        start_to_close_timeout=timedelta(seconds=30),
    )


class CarelessEffects(EpisodeEffects):
    """The change as a careless engineer would ship it: a new activity before the moment."""

    async def flush(self, now: datetime) -> None:
        if _entering_collection(self._ep):
            await _notify(self._ep)
        await super().flush(now)


class PatchedEffects(EpisodeEffects):
    """The same change behind `workflow.patched` (docs/versioning.md)."""

    async def flush(self, now: datetime) -> None:
        if _entering_collection(self._ep) and workflow.patched(PATCH_ID):
            await _notify(self._ep)
        await super().flush(now)


# Unsandboxed: the sandbox would re-import this test module (pytest, httpx...) per run. It guards
# against nondeterministic library calls, not against a changed command sequence, which is what
# these variants are about.
@workflow.defn(name="AccountWorkflow", sandboxed=False)
class UnguardedChange(AccountWorkflow):
    """The change as a careless engineer would ship it."""

    @workflow.init
    def __init__(self, input: AccountWorkflowInput) -> None:
        super().__init__(input)
        self._fx = CarelessEffects(self._ep)

    @workflow.run
    async def run(self, input: AccountWorkflowInput) -> AccountStatus:
        return await super().run(input)


@workflow.defn(name="AccountWorkflow", sandboxed=False)
class PatchedChange(AccountWorkflow):
    """The same change behind `workflow.patched` (docs/versioning.md)."""

    @workflow.init
    def __init__(self, input: AccountWorkflowInput) -> None:
        super().__init__(input)
        self._fx = PatchedEffects(self._ep)

    @workflow.run
    async def run(self, input: AccountWorkflowInput) -> AccountStatus:
        return await super().run(input)


def _account_histories() -> list[LabeledHistory]:
    """The committed AccountWorkflow histories: the change below is to that workflow, and the
    restructure and write-off children's histories are replayed by test_replay.py."""
    return [
        h
        for h in load_histories([HISTORY_ROOT])
        if h.history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        == "AccountWorkflow"
    ]


def _enters_collection(history: WorkflowHistory) -> bool:
    """A first run (not a continuation) in which the account became delinquent: read from the
    ArrearsState search attribute the workflow upserts (search attributes are never encrypted)."""
    events = history.events
    if events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
        return False
    return any(
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[
            "ArrearsState"
        ].data
        == b'"delinquent"'
        for e in events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    )


async def test_an_unpatched_decision_change_breaks_every_old_history_it_touches() -> None:
    """(a) The proof can fail: without the patch, replay of the 1.0 histories refuses every first
    run that entered collection, at the event where the new activity would go."""
    histories = _account_histories()
    report = await replay_histories(histories, Settings(), workflows=[UnguardedChange])
    failed = {o.label for o in report.failed}
    touched = {h.label for h in histories if _enters_collection(h.history)}
    assert touched and failed == touched
    for outcome in report.failed:
        assert outcome.nondeterministic
        assert outcome.event_type == "ACTIVITY_TASK_SCHEDULED"
        assert "notify_loan_system" in (outcome.error or "")


async def test_the_same_change_behind_workflow_patched_replays_every_old_history() -> None:
    """(b) The 1.0 histories carry no patch marker: `patched` answers False and they take the
    old path."""
    histories = _account_histories()
    report = await replay_histories(histories, Settings(), workflows=[PatchedChange])
    assert len(report.outcomes) == len(histories) > 0
    assert report.failed == []


async def test_a_new_episode_under_the_patch_takes_the_new_branch(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, settings: Settings
) -> None:
    """(c) New episodes record the marker and run the new decision; their history replays."""
    loan = "L-VERSION-NEW"
    NOTIFIED.clear()
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            workflow_env.client,
            task_queue=settings.task_queue,
            workflows=[PatchedChange],
            activities=[*build_activities(settings), notify_loan_system],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            due = await business_today(workflow_env) + timedelta(days=2)
            await start(api, account_json(loan, due))
            await sleep_until(workflow_env, due + timedelta(days=1), hour=9)
            history = await workflow_env.client.get_workflow_handle(
                f"account-{loan}"
            ).fetch_history()
    assert [loan] == NOTIFIED
    # The marker that makes this history take the new branch on every later replay (written by
    # the SDK core, in clear: a patch id is code, not borrower data).
    patches = [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert {"id": PATCH_ID, "deprecated": False} in patches
    report = await replay_histories(
        [LabeledHistory("new", history)], settings, workflows=[PatchedChange]
    )
    assert report.failed == []
