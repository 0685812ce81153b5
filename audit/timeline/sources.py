"""The timeline's two sources, each read once: the store's rows for the loan (every episode) and
the Temporal history of every run of the episode and of its children, decoded with the
production converter. Reading the history also yields the entries only the history can give
(the episode's opening, continue-as-new points, children and close); every message is kept as it
arrived (`Message`) for the rules to explain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlmodel import select
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from audit.export import Chain, RunHistory
from audit.timeline.entries import TimelineEntry
from audit.timeline.scrub import Scrubber, masked
from core.logmask import mask
from store.channels import InboundMessageRow, OutboundContactRow
from store.engine import session_scope
from store.models import AccountRow, ActionRow, PaymentRow, PromiseRow, TaskRow, TransitionRow
from store.notes import AccountNoteRow
from workflows.contracts import AccountSignal, AccountUpdate


@dataclass
class StoreRecords:
    account: dict[str, Any] | None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    outbound: list[dict[str, Any]] = field(default_factory=list)
    inbound: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def read_store(database_url: str, loan_id: str) -> StoreRecords:
    """Every row the read model holds for the account (all episodes)."""
    with session_scope(database_url) as session:
        account = session.get(AccountRow, loan_id)

        def rows(table: Any) -> list[dict[str, Any]]:
            found = session.exec(select(table).where(table.loan_id == loan_id)).all()
            return [row.model_dump() for row in found]

        return StoreRecords(
            account=account.model_dump() if account else None,
            transitions=rows(TransitionRow),
            actions=rows(ActionRow),
            payments=rows(PaymentRow),
            promises=rows(PromiseRow),
            tasks=rows(TaskRow),
            # The channels' ledger: each SMS and call with the provider's last status, and
            # what borrowers sent back (kind and keyword only; the text is never shown).
            outbound=rows(OutboundContactRow),
            inbound=rows(InboundMessageRow),
            # What staff wrote on the account (issue 15): never part of the workflow.
            notes=rows(AccountNoteRow),
        )


@dataclass
class RunInfo:
    run_id: str
    index: int
    started_at: datetime
    strategy: str | None
    strategy_data: dict[str, Any] | None


@dataclass
class Message:
    """A signal or update as it arrived, decoded."""

    at: datetime
    name: str
    kind: Literal["signal", "update"]
    args: list[Any]
    ref: str
    result: Any = None
    rejected: str | None = None

    @property
    def is_payment(self) -> bool:
        """A payment from the loan system: the `record_payment` update (from build line 1.1),
        or the `payment` signal of earlier episodes."""
        return (self.kind, self.name) in (
            ("update", AccountUpdate.PAYMENT.value),
            ("signal", AccountSignal.PAYMENT.value),
        )


@dataclass
class HistoryFacts:
    timezone: str | None = None
    runs: list[RunInfo] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    entries: list[TimelineEntry] = field(default_factory=list)
    scrubber: Scrubber = field(default_factory=lambda: Scrubber())


# Messages that may bring new contact data (a new address, phone, attorney), to scrub it.
CARRY_CONTACT_DATA = frozenset(
    {"contact_info", "task_outcome", "add_hold", "contact_event", "hardship"}
)


def _at(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def _decode(client: Client, payloads: Payloads) -> list[Any]:
    """Payloads as plain JSON values; an undecodable one (a key this process lacks) says so
    instead of failing the whole timeline."""
    if not payloads.payloads:
        return []
    try:
        return list(await client.data_converter.decode(payloads.payloads))
    except Exception as exc:
        return [{"undecodable": f"{exc.__class__.__name__}: {exc}"}]


def _ref(run: RunHistory, event: HistoryEvent) -> str:
    return f"{run.workflow_id} run {run.index} event {event.event_id}"


async def read_history(client: Client, chain: Chain) -> HistoryFacts:
    facts = HistoryFacts()
    for run in chain.runs:
        await _read_run(client, run, facts, is_child=False)
    for child in chain.children:
        await _read_run(client, child, facts, is_child=True)
    return facts


async def _read_run(client: Client, run: RunHistory, facts: HistoryFacts, is_child: bool) -> None:
    accepted: dict[str, Message] = {}
    E = EventType
    # An update is handled in the workflow task that accepts it, at that task's instant (the
    # workflow's `now`); its accepted event is stamped a moment later, when the task completed.
    task_started_at: datetime | None = None
    for event in run.history.events:
        kind = event.event_type
        at = _at(event)
        if kind == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started_at = at
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            args = await _decode(client, attrs.input)
            first = args[0] if args and isinstance(args[0], dict) else {}
            # The borrower's and contacts' data only (the strategy snapshot's "name" keys are
            # bucket and stage names, not people).
            carried = first.get("carried") or {}
            facts.scrubber.learn(first.get("account") or carried.get("account") or {})
            strategy = first.get("strategy")
            strategy_data = strategy if isinstance(strategy, dict) else None
            ref = strategy_ref(strategy_data)
            pinned = (first.get("policy") or {}).get("strategy")
            if ref is None and isinstance(pinned, dict):
                # Since 1.0 the input pins the strategy by reference, not as a snapshot.
                ref = strategy_ref(pinned)
                strategy_data = strategy_from_files(ref)
            if is_child:
                continue  # the parent's "started ..." entry says it; the child's close follows
            facts.runs.append(RunInfo(run.run_id, run.index, at, ref, strategy_data))
            borrower = (first.get("account") or carried.get("account") or {}).get("borrower") or {}
            facts.timezone = facts.timezone or borrower.get("timezone")
            if not attrs.continued_execution_run_id:
                facts.entries.append(_opened(at, first, ref, run, event))
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            facts.entries.append(
                _history_entry(
                    at,
                    "workflow",
                    f"run {run.index} continued as new in run {run.index + 1}",
                    run,
                    event,
                    reason="a safe point (stage boundary or a long history): state carried over",
                )
            )
        elif kind in _CLOSES:
            facts.entries.append(await _closed(client, event, run, is_child))
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signaled = event.workflow_execution_signaled_event_attributes
            signal_args = await _decode(client, signaled.input)
            if signaled.signal_name in CARRY_CONTACT_DATA:
                facts.scrubber.learn(signal_args)
            facts.messages.append(
                Message(at, signaled.signal_name, "signal", signal_args, _ref(run, event))
            )
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            admitted = event.workflow_execution_update_accepted_event_attributes
            request = admitted.accepted_request
            update_args = await _decode(client, request.input.args)
            if request.input.name in CARRY_CONTACT_DATA:
                facts.scrubber.learn(update_args)
            message = Message(
                task_started_at or at, request.input.name, "update", update_args, _ref(run, event)
            )
            accepted[request.meta.update_id or admitted.protocol_instance_id] = message
            facts.messages.append(message)
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            found = accepted.get(completed.meta.update_id)
            if found is not None:
                if completed.outcome.HasField("success"):
                    values = await _decode(client, completed.outcome.success)
                    found.result = values[0] if values else None
                else:
                    found.rejected = completed.outcome.failure.message or "failed"
        elif kind == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            facts.entries.append(
                _history_entry(
                    at,
                    "child",
                    f"started {child.workflow_type.name} as {child.workflow_id}",
                    run,
                    event,
                )
            )
        elif kind in (E.EVENT_TYPE_ACTIVITY_TASK_FAILED, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            how = "timed out" if kind == E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT else "failed"
            facts.entries.append(
                _history_entry(at, "workflow", f"an activity {how} after its retries", run, event)
            )


_CLOSES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
}


def _history_entry(
    at: datetime,
    kind: str,
    summary: str,
    run: RunHistory,
    event: HistoryEvent,
    *,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask(reason) if reason else None,
        inputs=masked(inputs or {}),
        source="history",
        ref=_ref(run, event),
    )


def _opened(
    at: datetime, account_input: dict[str, Any], ref: str | None, run: RunHistory, e: HistoryEvent
) -> TimelineEntry:
    account = account_input.get("account") or {}
    instalments = account.get("instalments") or []
    first_due = min((i.get("due_date", "") for i in instalments), default="")
    total = sum((Decimal(str(i.get("amount", "0"))) for i in instalments), Decimal(0))
    entry = _history_entry(
        at,
        "workflow",
        f"collection episode opened: {len(instalments)} unpaid instalment(s) totalling "
        f"{total} {account.get('currency', '')}, first due {first_due}",
        run,
        e,
        reason="the loan system reported the account one day before an instalment falls due",
        inputs={
            "segment": account.get("segment"),
            "currency": account.get("currency"),
            "first_due": first_due,
            "instalments": len(instalments),
            "amount_due": str(total),
            "jurisdiction": account.get("jurisdiction"),
        },
    )
    entry.strategy = ref
    entry._rank = 0  # the episode opens before anything at the same instant
    return entry


async def _closed(
    client: Client, event: HistoryEvent, run: RunHistory, is_child: bool
) -> TimelineEntry:
    how = _CLOSES.get(event.event_type, "closed")
    inputs: dict[str, Any] = {}
    reason = None
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        values = await _decode(client, event.workflow_execution_completed_event_attributes.result)
        result = values[0] if values else None
        if isinstance(result, dict):
            inputs = {
                k: result.get(k)
                for k in ("state", "dpd", "bucket", "amount_overdue", "paid_total", "balance")
                if k in result
            }
    elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        reason = event.workflow_execution_terminated_event_attributes.reason or None
    what = f"child {run.workflow_type} {run.workflow_id}" if is_child else "the episode's workflow"
    state = f": account {inputs['state']}" if inputs.get("state") else ""
    return _history_entry(
        _at(event),
        "child" if is_child else "workflow",
        f"{what} {how}{state}",
        run,
        event,
        reason=reason,
        inputs=inputs,
    )


def strategy_ref(data: dict[str, Any] | None) -> str | None:
    if not data or "name" not in data:
        return None
    return f"{data['name']}@{data.get('version')}"


def strategy_from_files(ref: str | None) -> dict[str, Any] | None:
    """The pinned strategy (name@version) from the strategy files, for rule texts when the
    history that carried its snapshot is gone; None when that version is not on disk."""
    if not ref or "@" not in ref:
        return None
    from domain.strategy import StrategyError, load_strategy

    name, _, version = ref.partition("@")
    try:
        strategy = load_strategy(name, int(version))
    except (StrategyError, ValueError, OSError):
        return None
    data: dict[str, Any] = strategy.model_dump(mode="json")
    return data
