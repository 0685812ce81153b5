"""History export and replay (issue 8): what auditors take away and what engineers run before
every deployment.

An account's episode is a *chain* of runs (AccountWorkflow continues-as-new at stage boundaries)
plus the child workflows it starts (restructuring, write-off). Both the export and the replay work
on the whole chain, so "replay account-L-1" proves every history the account ever produced in
this episode still replays.

The export envelope (`arrears history`, `GET /v1/accounts/{loan_id}/history`) is documented on
`export_envelope`. `load_histories` reads that envelope as well as the plain
`temporal workflow show --output json` format, from files or folders, so anything exported can be
replayed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DefaultFailureConverter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from arrears.codec import EncryptionCodec
from arrears.settings import Settings
from arrears.temporal import data_converter

ENVELOPE_FORMAT = "arrears.history/v1"
MAX_CHILD_DEPTH = 3
MAX_RUNS_PER_CHAIN = 500

_STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
_CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
_CHILD_STARTED = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
_TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
_TASK_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
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


class WorkflowNotFound(LookupError):
    """No workflow with this id (or run) is known to the Temporal server."""


# ------------------------------------------------------------------------------ the chain


@dataclass
class RunHistory:
    """One run's history with where it sits: the n-th run of its chain, or a child of a run."""

    workflow_id: str
    run_id: str
    workflow_type: str
    history: WorkflowHistory
    index: int = 1
    parent_workflow_id: str | None = None
    parent_run_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.workflow_id} run {self.index}"


@dataclass
class Chain:
    """Every run of one workflow id's episode, oldest first, and its children (recursively)."""

    workflow_id: str
    runs: list[RunHistory]
    children: list[RunHistory] = field(default_factory=list)

    @property
    def histories(self) -> list[RunHistory]:
        return [*self.runs, *self.children]


def _started(history: WorkflowHistory) -> Any:
    return history.events[0].workflow_execution_started_event_attributes


def workflow_type_of(history: WorkflowHistory) -> str:
    return str(_started(history).workflow_type.name) if history.events else ""


async def _fetch(client: Client, workflow_id: str, run_id: str) -> WorkflowHistory:
    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(f"no run {run_id} of workflow {workflow_id}") from err
        raise


async def fetch_chain(
    client: Client, workflow_id: str, run_id: str | None = None, *, depth: int = 0
) -> Chain:
    """The episode containing `run_id` (default: the latest run): walk back through each run's
    `continuedExecutionRunId`, forward through `newExecutionRunId` of a continued-as-new close,
    then fetch every child a run started. Histories come as stored (payloads still encrypted)."""
    if run_id is None:
        try:
            run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowNotFound(f"no workflow {workflow_id}") from err
            raise
    # (run id, history): the id we fetched by, which a reset can make differ from the started
    # event's original run id.
    anchor = (run_id, await _fetch(client, workflow_id, run_id))
    older: list[tuple[str, WorkflowHistory]] = []
    previous = _started(anchor[1]).continued_execution_run_id
    while previous and len(older) < MAX_RUNS_PER_CHAIN:
        history = await _fetch(client, workflow_id, previous)
        older.append((previous, history))
        previous = _started(history).continued_execution_run_id
    newer: list[tuple[str, WorkflowHistory]] = []
    last = anchor[1]
    while len(newer) < MAX_RUNS_PER_CHAIN and last.events:
        close = last.events[-1]
        if close.event_type != _CONTINUED:
            break
        following = close.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        last = await _fetch(client, workflow_id, following)
        newer.append((following, last))
    ordered = [*reversed(older), anchor, *newer]
    runs = [
        RunHistory(workflow_id, rid, workflow_type_of(h), h, index=i)
        for i, (rid, h) in enumerate(ordered, start=1)
    ]
    chain = Chain(workflow_id, runs)
    if depth < MAX_CHILD_DEPTH:
        for run in runs:
            for child_id, child_run in children_started(run.history):
                child = await fetch_chain(client, child_id, child_run, depth=depth + 1)
                for child_run_history in child.runs:
                    child_run_history.parent_workflow_id = workflow_id
                    child_run_history.parent_run_id = run.run_id
                chain.children.extend([*child.runs, *child.children])
    return chain


def children_started(history: WorkflowHistory) -> list[tuple[str, str]]:
    """(workflow id, run id) of every child workflow a run started."""
    found = []
    for event in history.events:
        if event.event_type == _CHILD_STARTED:
            execution = event.child_workflow_execution_started_event_attributes.workflow_execution
            found.append((execution.workflow_id, execution.run_id))
    return found


# ------------------------------------------------------------------------------ export


def _payloads_in(message: Message) -> Iterable[Payload]:
    """Every Payload inside a protobuf message, at any depth (inputs, results, headers, memos,
    failure attributes, update requests...)."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            value_field = descriptor.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for item in value.values():
                    yield from _payloads_in(item)
        elif descriptor.is_repeated:
            for item in value:
                yield from _payloads_in(item)
        else:
            yield from _payloads_in(value)


def decrypt_history(history: WorkflowHistory, codec: EncryptionCodec) -> WorkflowHistory:
    """A copy of the history with every encrypted payload replaced by its plain original (what
    `temporal workflow show --codec-endpoint` shows). Unencrypted payloads are left alone."""
    events: list[HistoryEvent] = []
    for event in history.events:
        copy = HistoryEvent()
        copy.CopyFrom(event)
        for payload in list(_payloads_in(copy)):
            payload.CopyFrom(codec.decrypt(payload))
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)


def _run_entry(run: RunHistory, codec: EncryptionCodec | None) -> dict[str, Any]:
    history = decrypt_history(run.history, codec) if codec else run.history
    entry: dict[str, Any] = {
        "workflow_id": run.workflow_id,
        "run_id": run.run_id,
        "workflow_type": run.workflow_type,
        "index": run.index,
    }
    if run.parent_workflow_id:
        entry["parent_workflow_id"] = run.parent_workflow_id
        entry["parent_run_id"] = run.parent_run_id
    entry["history"] = history.to_json_dict()
    return entry


def export_envelope(
    chain: Chain,
    *,
    loan_id: str | None = None,
    namespace: str | None = None,
    codec: EncryptionCodec | None = None,
) -> dict[str, Any]:
    """The export of one episode:

        {"format": "arrears.history/v1", "loan_id": "L-1", "workflow_id": "account-L-1",
         "namespace": "default", "exported_at": "...", "payloads": "encrypted" | "decrypted",
         "runs":     [{"workflow_id", "run_id", "workflow_type", "index", "history": {...}}],
         "children": [{... as runs ..., "parent_workflow_id", "parent_run_id"}]}

    Each `history` is exactly what `temporal workflow show --output json` writes for that run
    (`{"events": [...]}`, proto JSON), so a run can be cut out and fed to any Temporal tool.
    Payloads stay encrypted unless a codec is given (auditors who need to read them)."""
    return {
        "format": ENVELOPE_FORMAT,
        "loan_id": loan_id,
        "workflow_id": chain.workflow_id,
        "namespace": namespace,
        "exported_at": datetime.now(UTC).isoformat(),
        "payloads": "decrypted" if codec else "encrypted",
        "runs": [_run_entry(run, codec) for run in chain.runs],
        "children": [_run_entry(run, codec) for run in chain.children],
    }


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
        history = await _fetch(client, execution.id, execution.run_id)
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
    from worker.main import workflow_runner

    # The production converter (pydantic, the PII codec with every configured key), except that
    # failures raised while replaying keep their message in clear: they never leave this process,
    # and "payload encrypted with key 'k…', which is not in ARREARS_PAYLOAD_KEY" must be readable.
    # Failures recorded in the history decode either way.
    converter = dataclasses.replace(
        data_converter(settings), failure_converter_class=DefaultFailureConverter
    )
    return Replayer(
        workflows=workflows,
        workflow_runner=runner or workflow_runner(),
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
    replayer = _replayer(settings, workflows, runner)
    began = time.perf_counter()
    outcomes: list[ReplayOutcome] = []

    async def each() -> AsyncIterator[WorkflowHistory]:
        for item in histories:
            yield item.history

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
