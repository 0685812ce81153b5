"""History export (issue 8): what auditors take away and what replay reads.

An account's episode is a *chain* of runs (AccountWorkflow continues-as-new at stage boundaries)
plus the child workflows it starts (restructuring, write-off). The export works on the whole
chain, so "replay account-L-1" proves every history the account ever produced in this episode
still replays.

The export envelope (`arrears history`, `GET /v1/accounts/{loan_id}/history`) is documented on
`export_envelope`; `write_runs` writes its runs as plain `temporal workflow show --output json`
files (what tests/histories/ holds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from core.codec import ENCODING, REFUSED, EncryptionCodec, refused

ENVELOPE_FORMAT = "arrears.history/v1"
MAX_CHILD_DEPTH = 3
MAX_RUNS_PER_CHAIN = 500

_CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
_CHILD_STARTED = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED


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


async def fetch_run(client: Client, workflow_id: str, run_id: str) -> WorkflowHistory:
    """One run's history; WorkflowNotFound instead of the server's NOT_FOUND."""
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
    anchor = (run_id, await fetch_run(client, workflow_id, run_id))
    older: list[tuple[str, WorkflowHistory]] = []
    previous = _started(anchor[1]).continued_execution_run_id
    while previous and len(older) < MAX_RUNS_PER_CHAIN:
        history = await fetch_run(client, workflow_id, previous)
        older.append((previous, history))
        previous = _started(history).continued_execution_run_id
    newer: list[tuple[str, WorkflowHistory]] = []
    last = anchor[1]
    while len(newer) < MAX_RUNS_PER_CHAIN and last.events:
        close = last.events[-1]
        if close.event_type != _CONTINUED:
            break
        following = close.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        last = await fetch_run(client, workflow_id, following)
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


def refuse_unsealed_signals(history: WorkflowHistory) -> WorkflowHistory:
    """The history with every signal input that no key of ours sealed marked refused, as the
    worker refused it when it ran (core/codec.py), so that replaying an encrypted history with
    the auditors' codec, which reads payloads in clear, does not apply a forged signal the
    workflow dropped. A history without a single encrypted payload is a decrypted export: left
    as it is (its forged signals were marked when it was exported)."""
    payloads = (p for event in history.events for p in _payloads_in(event))
    if not any(p.metadata.get("encoding") == ENCODING for p in payloads):
        return history
    events: list[HistoryEvent] = []
    for event in history.events:
        copy = HistoryEvent()
        copy.CopyFrom(event)
        if copy.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            for payload in copy.workflow_execution_signaled_event_attributes.input.payloads:
                if payload.metadata.get("encoding") not in (ENCODING, REFUSED):
                    payload.CopyFrom(refused("not encrypted with an ARREARS_PAYLOAD_KEY"))
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)


def _run_entry(run: RunHistory, codec: EncryptionCodec | None) -> dict[str, Any]:
    history = decrypt_history(refuse_unsealed_signals(run.history), codec) if codec else run.history
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


def write_runs(envelope: dict[str, Any], folder: Path) -> list[Path]:
    """One plain history file per run and child, named like tests/histories/
    (`account-L-1.run1.json`): the format `temporal workflow show --output json` writes."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("runs", "children"):
        for entry in envelope[kind]:
            path = folder / f"{entry['workflow_id']}.run{entry['index']}.json"
            path.write_text(json.dumps(entry["history"], indent=2), encoding="utf-8")
            written.append(path)
    return written
