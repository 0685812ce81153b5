"""Replay (issue 8): what engineers run before every deployment, and what `arrears replay` and
the replay tests call. `load_histories` reads the export envelope (audit.export) as well as the
plain `temporal workflow show --output json` format, from files or folders, so anything exported
can be replayed; a failure names the first event the current code disagrees with.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DefaultFailureConverter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from audit.export import fetch_chain, fetch_run, refuse_unsealed_signals
from core.settings import Settings
from core.temporal import data_converter, sandbox_runner
from domain.policy import PolicyRegistry, install_registry
from workflows.account import SANDBOX_SHARED

_TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
# Events a workflow task's commands produce: where a nondeterministic replay diverges.
_COMMAND_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
    }
)


# ------------------------------------------------------------------------------ loading


@dataclass
class LabeledHistory:
    label: str
    history: WorkflowHistory


def parse_history_document(document: Any, name: str) -> list[LabeledHistory]:
    """An export envelope, or one plain `{"events": [...]}` history (Temporal CLI/UI format)."""
    if isinstance(document, dict) and "runs" in document:
        found = []
        for kind in ("runs", "children"):
            for entry in document.get(kind) or []:
                workflow_id = entry.get("workflow_id") or document.get("workflow_id") or name
                history = WorkflowHistory.from_json(workflow_id, entry["history"])
                prefix = "child " if kind == "children" else ""
                found.append(
                    LabeledHistory(f"{prefix}{workflow_id} run {entry.get('index', '?')}", history)
                )
        return found
    if isinstance(document, dict) and "events" in document:
        return [LabeledHistory(name, WorkflowHistory.from_json(name, document))]
    raise ValueError(f"{name}: neither a history ({{'events': ...}}) nor an arrears export")


def history_files(paths: Sequence[Path]) -> list[Path]:
    """The .json files named, or found (recursively, sorted) under the folders named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.json")))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def load_histories(paths: Sequence[Path]) -> list[LabeledHistory]:
    found: list[LabeledHistory] = []
    for path in history_files(paths):
        document = json.loads(path.read_text(encoding="utf-8"))
        found.extend(parse_history_document(document, path.stem))
    return found


async def histories_of_workflows(
    client: Client, workflow_ids: Sequence[str]
) -> list[LabeledHistory]:
    """Every run and child of each workflow's current episode."""
    found: list[LabeledHistory] = []
    for workflow_id in workflow_ids:
        chain = await fetch_chain(client, workflow_id)
        found.extend(
            LabeledHistory(("child " if r.parent_workflow_id else "") + r.label, r.history)
            for r in chain.histories
        )
    return found


async def histories_of_query(client: Client, query: str, limit: int) -> list[LabeledHistory]:
    """Every execution (run) a visibility query lists, e.g. "ArrearsState='delinquent'". Needs a
    server with visibility (the dev server or a cluster), not the time-skipping test server."""
    found: list[LabeledHistory] = []
    async for execution in client.list_workflows(query, limit=limit):
        history = await fetch_run(client, execution.id, execution.run_id)
        found.append(LabeledHistory(f"{execution.id} run {execution.run_id[:8]}", history))
    return found


# ------------------------------------------------------------------------------ replay


@dataclass
class ReplayOutcome:
    label: str
    workflow_id: str
    run_id: str
    events: int
    error: str | None = None
    nondeterministic: bool = False
    event_id: int | None = None
    event_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ReplayReport:
    outcomes: list[ReplayOutcome]
    seconds: float

    @property
    def events(self) -> int:
        return sum(o.events for o in self.outcomes)

    @property
    def failed(self) -> list[ReplayOutcome]:
        return [o for o in self.outcomes if not o.ok]


_CORE_MESSAGE = re.compile(r'message: "(?P<message>(?:[^"\\]|\\.)*)"')
_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)|event id:? (\d+)|event (\d+)\b", re.IGNORECASE)
_QUOTED = re.compile(r"'([^']+)'")


def what_differed(error: BaseException) -> str:
    """The core's sentence from a replay failure, without the Rust debug wrapping around it:
    "Activity type of scheduled event 'apply_moment' does not match activity type of activity
    command 'notify_loan_system'"."""
    text = str(error)
    match = _CORE_MESSAGE.search(text)
    message = match.group("message").encode().decode("unicode_escape") if match else text
    message = re.sub(r"^\[TMPRL\d+\]\s*", "", message)
    return re.sub(r"^Nondeterminism error:\s*", "", message).strip()


def _event_id_in(message: str) -> int | None:
    match = _EVENT_ID.search(message)
    if not match:
        return None
    return int(next(g for g in match.groups() if g))


@cache
def quiet_runtime() -> Runtime:
    """A runtime whose core logs only errors: a failing replay is reported by us, once, instead
    of as a core warning per workflow task."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


def _replayer(
    settings: Settings, workflows: Sequence[type], runner: SandboxedWorkflowRunner | None
) -> Replayer:
    # The production converter (pydantic, the PII codec with every configured key), except that
    # failures raised while replaying keep their message in clear: they never leave this process,
    # and "payload encrypted with key 'k…', which is not in ARREARS_PAYLOAD_KEY" must be readable.
    # Failures recorded in the history decode either way.
    converter = dataclasses.replace(
        data_converter(settings, for_audit=True), failure_converter_class=DefaultFailureConverter
    )
    return Replayer(
        workflows=workflows,
        workflow_runner=runner or sandbox_runner(SANDBOX_SHARED),
        data_converter=converter,
        runtime=quiet_runtime(),
    )


async def _replay_one(replayer: Replayer, history: WorkflowHistory) -> BaseException | None:
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure


async def locate_divergence(
    replayer: Replayer, history: WorkflowHistory, message: str
) -> HistoryEvent | None:
    """The first event the current code disagrees with. The core names it in some messages
    ("HistoryEvent(id: 12, ...)"), not in others ("Activity type of scheduled event ... does not
    match"): then find the first workflow task whose replay fails by bisecting on history
    prefixes cut at each WorkflowTaskStarted (the last task of a prefix runs fresh, unchecked),
    and pick, among the events that task's commands produced, the one the message names."""
    by_id = {e.event_id: e for e in history.events}
    named = _event_id_in(message)
    if named is not None and named in by_id:
        return by_id[named]
    cuts = [i + 1 for i, e in enumerate(history.events) if e.event_type == _TASK_STARTED]
    low, high = 0, len(cuts)  # invariant: prefix cuts[low-1] replays; full history fails
    while low < high:
        middle = (low + high) // 2
        prefix = WorkflowHistory(history.workflow_id, history.events[: cuts[middle]])
        if await _replay_one(replayer, prefix) is None:
            low = middle + 1
        else:
            high = middle
    # Task `low - 1` (the last one the failing prefix completes) produced the divergent commands.
    start = cuts[low - 1] if low >= 1 else 0
    end = cuts[low] if low < len(cuts) else len(history.events)
    window = [
        e
        for e in history.events[start:end]
        if e.event_type in _COMMAND_EVENTS or e.event_type == _TASK_COMPLETED
    ]
    commands = [e for e in window if e.event_type != _TASK_COMPLETED]
    for name in _QUOTED.findall(message):
        for event in commands:
            if name in str(event):
                return event
    return commands[0] if commands else (window[0] if window else None)


async def replay_histories(
    histories: Sequence[LabeledHistory],
    settings: Settings,
    *,
    workflows: Sequence[type] | None = None,
    runner: SandboxedWorkflowRunner | None = None,
) -> ReplayReport:
    """Replay each history against the given workflow classes (default: the worker's) with the
    production data converter; a failure names the first divergent event and what differed."""
    if workflows is None:
        from workflows import WORKFLOWS

        workflows = WORKFLOWS
    # The episodes pin their policy by reference: replay resolves it from the same directory a
    # worker of this deployment serves (ARREARS_POLICY_DIR).
    install_registry(PolicyRegistry.load(settings.policy_dir))
    replayer = _replayer(settings, workflows, runner)
    began = time.perf_counter()
    outcomes: list[ReplayOutcome] = []

    async def each() -> AsyncIterator[WorkflowHistory]:
        for item in histories:
            # A forged signal the worker refused is refused again here (core/codec.py).
            yield refuse_unsealed_signals(item.history)

    labels = iter(histories)
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            item = next(labels)
            failure = result.replay_failure
            outcome = ReplayOutcome(
                label=item.label,
                workflow_id=item.history.workflow_id,
                run_id=item.history.run_id if item.history.events else "",
                events=len(item.history.events),
            )
            if failure is not None:
                outcome.error = what_differed(failure)
                outcome.nondeterministic = "nondetermin" in str(failure).lower()
            outcomes.append(outcome)
    for outcome, item in zip(outcomes, histories, strict=True):
        if outcome.nondeterministic and outcome.error:
            event = await locate_divergence(replayer, item.history, outcome.error)
            if event is not None:
                outcome.event_id = event.event_id
                outcome.event_type = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return ReplayReport(outcomes, time.perf_counter() - began)
