"""The explained timeline of an account (issue 8): what was done to the borrower, when, and why.

Two sources, merged in time order:

- the store (written by the workflow's activities): transitions with their reason, every action
  with its detail (the ladder step, DPD, bucket, amounts; the compliance rule of a
  `contact_blocked`), payments as applied, promises and how they ended, tasks and their outcomes;
- the workflow history of every run of the episode and of its children, for what the store does
  not hold: each message as it arrived (payments including duplicates that counted once,
  instalment changes, contact events, holds, promise requests with who made them, task outcomes),
  the strategy version each run was pinned to, and the episode's start, continue-as-new points
  and close.

Built on demand from those two, it is complete for closed workflows too (while the history is
retained; after that the store's part remains and `history` says "unavailable"). Used by the API
(`GET /v1/accounts/{loan_id}/timeline`) and the CLI (`arrears timeline`).

Borrower PII stays out: entries carry loan ids, amounts, dates and rules, and anything taken from
a decoded payload passes through the log masker (phones, names, addresses).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment
from pydantic import BaseModel, Field, PrivateAttr
from sqlmodel import select
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from arrears.audit import Chain, RunHistory, WorkflowNotFound, fetch_chain
from arrears.logmask import MASK, mask
from store.channels import InboundMessageRow, OutboundContactRow
from store.engine import as_utc, session_scope
from store.models import AccountRow, ActionRow, PaymentRow, PromiseRow, TaskRow, TransitionRow

Source = Literal["store", "history"]

# Ladder actions that reach the borrower (or their address); everything else the workflow
# decides is a "decision" (tasks for people, credit records, placements, legal steps).
CONTACT_ACTIONS = frozenset(
    {"sms_reminder", "voice_reminder", "letter", "lawyer_letter", "email_reminder"}
)
HOLD_WORDS = ("hardship", "dispute", "complaint", "bankruptcy", "deceased", "cease", "hold")
# Same instant: the order a reader expects: what arrived, how the state moved, what the
# workflow did about it, and only then a continue-as-new or close.
KIND_RANK = {
    "payment": 1,
    "promise": 1,
    "outcome": 1,
    "hold": 1,
    "message": 1,
    "transition": 2,
    "decision": 3,
    "contact": 3,
    "contact_blocked": 3,
    "task": 3,
    "child": 4,
    "workflow": 5,
}


class TimelineEntry(BaseModel):
    """One thing that happened, with its business reason."""

    at: datetime
    kind: str = Field(
        description="transition · decision · contact · contact_blocked · message · payment · "
        "promise · hold · outcome · task · child · workflow"
    )
    summary: str
    reason: str | None = Field(default=None, description="why, in the workflow's words")
    rule: str | None = Field(
        default=None, description="the strategy step, bucket rule or compliance rule that decided"
    )
    strategy: str | None = Field(default=None, description="name@version in force at the time")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="what the decision saw: dpd, bucket, amounts, ..."
    )
    source: Source
    ref: str | None = Field(default=None, description="action seq, task id or history event")
    _rank: int | None = PrivateAttr(default=None)

    def sort_key(self) -> tuple[datetime, int]:
        return self.at, self._rank if self._rank is not None else KIND_RANK.get(self.kind, 9)


class Timeline(BaseModel):
    loan_id: str
    workflow_id: str
    timezone: str | None = Field(default=None, description="the borrower's, for local times")
    state: str | None = None
    strategy: str | None = None
    history: Literal["complete", "unavailable"] = "complete"
    missing: list[str] = Field(
        default_factory=list,
        description="what only the workflow history holds and this timeline therefore lacks "
        "(empty while the history is retained)",
    )
    runs: int = 0
    children: int = 0
    entries: list[TimelineEntry] = Field(default_factory=list)


# ------------------------------------------------------------------------------ the store


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
        )


# ------------------------------------------------------------------------------ history


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
    for event in run.history.events:
        kind = event.event_type
        at = _at(event)
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            args = await _decode(client, attrs.input)
            first = args[0] if args and isinstance(args[0], dict) else {}
            # The borrower's and contacts' data only (the strategy snapshot's "name" keys are
            # bucket and stage names, not people).
            facts.scrubber.learn(first.get("account") or {})
            strategy = first.get("strategy")
            strategy_data = strategy if isinstance(strategy, dict) else None
            ref = _strategy_ref(strategy_data)
            if is_child:
                continue  # the parent's "started ..." entry says it; the child's close follows
            facts.runs.append(RunInfo(run.run_id, run.index, at, ref, strategy_data))
            borrower = (first.get("account") or {}).get("borrower") or {}
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
            message = Message(at, request.input.name, "update", update_args, _ref(run, event))
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
        inputs=_masked(inputs or {}),
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


def money(value: Any) -> str:
    """A decimal string as the contract writes money ("1200.00"): the store keeps four places."""
    amount = Decimal(str(value))
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount)


def _strategy_ref(data: dict[str, Any] | None) -> str | None:
    if not data or "name" not in data:
        return None
    return f"{data['name']}@{data.get('version')}"


# Identifiers, money and instants: never PII, and often all digits (a loan system's payment id)
# that the phone masker would otherwise eat.
NOT_PII = frozenset(
    {
        "payment_id",
        "promise_id",
        "task_id",
        "loan_id",
        "provider_id",
        "step_id",
        "template",
        "amount",
        "amount_overdue",
        "balance",
        "paid_at",
        "recorded_at",
        "at",
        "due_date",
        "promised_date",
        "first_due",
        "seq",
        "action_seq",
        "error_code",
    }
)


# Fields whose value is contact data whatever it looks like: a name or an address cannot be
# recognised by its shape once it has left its key (logmask only finds `name=...` inside text).
PII_KEYS = frozenset(
    {
        "name",
        "address",
        "street",
        "addressee",
        "number",
        "phone",
        "phones",
        "dead_phones",
        "attorney_phone",
        "to_number",
        "from_number",
        "email",
        "body",
        "contact_info",
        "contacts",
    }
)


def _is_pii_key(key: str | None) -> bool:
    if key is None:
        return False
    lowered = key.lower()
    return lowered in PII_KEYS or lowered.endswith(("_name", "_address", "_email", "_phone"))


def _masked(value: Any, key: str | None = None) -> Any:
    """Decoded inputs as an auditor may read them in a report: contact fields (names,
    addresses, phones, emails) masked by their key, free text through the log masker,
    identifiers, money and dates as they are. The episode's known contact data is scrubbed
    from everything afterwards (`Scrubber`), for free text that names the borrower."""
    if key in NOT_PII:
        return value
    if _is_pii_key(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    return value


# Words of an address that say nothing about where the borrower lives.
ADDRESS_WORDS = frozenset(
    {
        "road",
        "street",
        "avenue",
        "lane",
        "district",
        "building",
        "room",
        "floor",
        "unit",
        "apartment",
        "block",
        "city",
        "province",
        "county",
        "north",
        "south",
        "east",
        "west",
        "suite",
    }
)


class Scrubber:
    """The episode's own contact data (the borrower's and contacts' names, phones and
    addresses, as the start input, contact-info updates, task outcomes and the channels'
    ledger know them), removed from every text of the timeline: a hold note "Wang Fang
    disputes the fee" or an outcome "moved to 9 Nanjing Road" carries no key to mask by."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def add_name(self, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        text = value.strip()
        self._known.add(text)
        # "Fang" alone, or "Wang", in a note: each part of a name that is word-like.
        self._known.update(part for part in re.split(r"\s+", text) if len(part) >= 3)

    def add_address(self, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        text = value.strip()
        self._known.add(text)
        # "1 Renmin Road, Huangpu, Shanghai": a note may quote any one part of it, or one
        # distinctive word ("paid at the Renmin branch").
        self._known.update(p.strip() for p in text.split(",") if len(p.strip()) >= 4)
        self._known.update(
            word
            for word in re.findall(r"[^\W\d_][\w'’-]{3,}", text)
            if word.lower() not in ADDRESS_WORDS
        )

    def add_phone(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7:
            self._known.add(value.strip())
            self._known.add(digits)
            if value.strip().startswith("+") and len(digits) > 10:
                self._known.add(digits[-11:])  # the national form a collector might type

    def learn(self, value: Any, key: str | None = None) -> None:
        """Collect contact data from a decoded payload, by the keys it travels under."""
        if isinstance(value, dict):
            for k, v in value.items():
                self.learn(v, k)
            return
        if isinstance(value, list):
            for item in value:
                self.learn(item, key)
            return
        lowered = (key or "").lower()
        if lowered in ("name", "addressee") or lowered.endswith("_name"):
            self.add_name(value)
        elif lowered in ("address", "street") or lowered.endswith("_address"):
            self.add_address(value)
        elif lowered in ("number", "phone", "dead_phones", "to_number", "from_number") or (
            lowered.endswith("_phone")
        ):
            self.add_phone(value)

    def text(self, value: str) -> str:
        if not self._known:
            return value
        for known in sorted(self._known, key=len, reverse=True):
            # Not inside a word or an identifier ("L-SAMPLE-180"), nor a time zone's city
            # ("Asia/Shanghai").
            pattern = rf"(?<![\w/-]){re.escape(known)}(?![\w-])"
            value = re.sub(pattern, MASK, value, flags=re.IGNORECASE)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            return value if key in NOT_PII else self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        return value

    def entry(self, entry: TimelineEntry) -> None:
        entry.summary = self.text(entry.summary)
        entry.reason = self.text(entry.reason) if entry.reason else entry.reason
        entry.rule = self.text(entry.rule) if entry.rule else entry.rule
        entry.inputs = self.value(entry.inputs)


# ------------------------------------------------------------------------------ merging


def _run_at(runs: list[RunInfo], at: datetime) -> RunInfo | None:
    current = None
    for run in runs:
        if run.started_at <= at:
            current = run
    return current or (runs[0] if runs else None)


def _step_rule(strategy: dict[str, Any] | None, step_id: str | None) -> str | None:
    if not step_id:
        return None
    for steps in ((strategy or {}).get("treatments") or {}).values():
        for step in steps or []:
            if step.get("id") == step_id:
                when = step.get("when", "always")
                condition = "" if when == "always" else f", only when {when.replace('_', ' ')}"
                return f"step {step_id}: {step.get('action')} at DPD {step.get('dpd')}{condition}"
    return f"step {step_id}"


def _range_rule(strategy: dict[str, Any] | None, table: str, name: str) -> str | None:
    for item in (strategy or {}).get(table) or []:
        if item.get("name") == name:
            upper = item.get("max")
            span = f"{item.get('min')}-{upper}" if upper is not None else f"{item.get('min')}+"
            return f"{table[:-1]} {name} = DPD {span}"
    return None


def _stage_at(strategy: dict[str, Any] | None, dpd: int) -> str | None:
    for item in (strategy or {}).get("stages") or []:
        upper = item.get("max")
        if item.get("min", 0) <= dpd and (upper is None or dpd <= upper):
            return str(item.get("name"))
    return None


def _transition_summary(row: dict[str, Any], stage: str | None) -> str:
    """ "pre_due → delinquent (current → M1) at DPD 1"; within collection, what moved:
    "M1 → M2 at DPD 30, stage mid_range"."""
    moved_bucket = row.get("from_bucket") != row["to_bucket"]
    if row.get("from_state") == row["to_state"]:
        what = f"{row['from_bucket']} → {row['to_bucket']}" if moved_bucket else "same bucket"
        where = f", stage {stage}" if stage else ""
        return f"{what} at DPD {row['dpd']}{where}"
    bucket = f" ({row['from_bucket']} → {row['to_bucket']})" if moved_bucket else ""
    return f"{row.get('from_state') or 'new'} → {row['to_state']}{bucket} at DPD {row['dpd']}"


def _transition_rule(
    row: dict[str, Any], strategy: dict[str, Any] | None, stage: str | None
) -> str | None:
    to_state = row["to_state"]
    if to_state in ("written_off", "restructured", "closed"):
        return None  # decided by a subflow or the loan system: the reason says which
    if to_state == "paid_on_time":
        return "paid in full by the end of the due date (borrower's local day)"
    if to_state == "cured":
        return "amount overdue reached zero"
    if row.get("from_state") == "pre_due" and to_state == "delinquent":
        return "unpaid at the end of the due date (borrower's local day)"
    rules = [_range_rule(strategy, "buckets", row["to_bucket"]) or f"bucket {row['to_bucket']}"]
    if stage:
        rules.append(_range_rule(strategy, "stages", stage) or f"stage {stage}")
    return "; ".join(rules)


ACTION_LABELS = {
    "sms_reminder": "SMS reminder",
    "voice_reminder": "voice reminder",
    "email_reminder": "email reminder",
    "call_task": "call task",
    "field_visit": "field visit",
    "oca_placement": "agency placement",
    "oca_recall": "agency recall",
    "delivery_failure": "what a failed delivery taught",
    "oca_hold_notice": "agency told to stop (hold)",
    "oca_resume_notice": "agency told the hold ended",
    "agency_contacts": "agency contacts reported",
    "hold_placed": "hold placed",
    "hold_released": "hold released",
}
# The workflow's default action reason ("strategy default@1 step fe_sms_1 at DPD 3") repeats
# the strategy column and the rule: the timeline says why the step came instead.
_DEFAULT_REASON = re.compile(r"^strategy \S+ step \S+ at DPD -?\d+$")


def _label(action: Any) -> str:
    text = str(action)
    return ACTION_LABELS.get(text, text.replace("_", " "))


@dataclass
class Pause:
    """A stretch of time the ladder waited (an open promise, a hold), to explain late steps."""

    since: datetime
    until: datetime | None
    what: str


@dataclass
class Context:
    """What the store's entries need beyond their own row."""

    strategy_at: Any
    timezone: str | None = None
    deliveries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    pauses: list[Pause] = field(default_factory=list)
    effects: dict[str, str] = field(default_factory=dict)
    # Without the history the borrower's name is unknown, so a person's free-text notes could
    # name them unrecognised: they are withheld.
    withhold_notes: bool = False


def local_label(value: Any, timezone: str | None) -> str:
    """An instant as the borrower's clock shows it, naming the zone ("2027-01-04 08:00
    Asia/Shanghai"); UTC when the zone is unknown (a store-only timeline)."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if timezone:
        try:
            return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} {timezone}"
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _step(strategy: dict[str, Any] | None, step_id: str | None) -> dict[str, Any] | None:
    for steps in ((strategy or {}).get("treatments") or {}).values():
        for step in steps or []:
            if step.get("id") == step_id:
                return dict(step)
    return None


def _store_entries(store: StoreRecords, context: Context) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    strategy_at = context.strategy_at
    for row in store.transitions:
        at = as_utc(row["at"])
        assert at is not None
        ref, data = strategy_at(at)
        stage = _stage_at(data, row["dpd"]) if row["to_state"] == "delinquent" else None
        entries.append(
            TimelineEntry(
                at=at,
                kind="transition",
                summary=_transition_summary(row, stage),
                reason=row.get("reason") or None,
                rule=_transition_rule(row, data, stage),
                strategy=ref,
                inputs={
                    "dpd": row["dpd"],
                    "from_state": row.get("from_state"),
                    "to_state": row["to_state"],
                    "from_bucket": row.get("from_bucket"),
                    "bucket": row["to_bucket"],
                    "stage": stage,
                },
                source="store",
                ref=f"transition {row['seq']}",
            )
        )
    for row in store.actions:
        if row["kind"] in HOLD_ACTIONS:
            if context.withhold_notes:  # no history: the store's record of the hold stands in
                entries.append(_hold_action_entry(row, context))
            continue  # with the history, its add_hold/release_hold message is the entry
        entries.append(_action_entry(row, context))
    for row in store.tasks:
        entry = _task_entry(
            row, strategy_at, context.effects.get(row["task_id"]), context.withhold_notes
        )
        if entry is not None:
            entries.append(entry)
    return entries


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

HOLD_ACTIONS = ("hold_placed", "hold_released")


def _hold_action_entry(row: dict[str, Any], context: Context) -> TimelineEntry:
    """A hold from the store's actions (patch arrears-4-hold-actions), described as the
    history's add_hold/release_hold message would be, minus the free-text notes."""
    at = as_utc(row["at"]) or _EPOCH
    detail: dict[str, Any] = dict(row.get("detail") or {})
    body = {
        "kind": detail.get("hold"),
        "reported_by": detail.get("reported_by") or detail.get("cause") or "?",
        "released_by": detail.get("released_by") or "?",
        # The reason and notes are a person's free text: withheld like other notes, since
        # without the history the borrower's name is not known to scrub it.
    }
    result = {k: detail.get(k) for k in ("since", "until")} | {"kind": detail.get("hold")}
    name = "add_hold" if row["kind"] == "hold_placed" else "release_hold"
    kind, summary, reason, inputs = _describe_message(name, body, result, context.timezone)
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask(reason) if reason else None,
        strategy=context.strategy_at(at)[0],
        inputs=_masked({k: v for k, v in (inputs or {}).items() if v is not None}),
        source="store",
        ref=f"action {row['seq']}",
    )


ACTION_INPUTS = (
    "dpd",
    "bucket",
    "amount_overdue",
    "currency",
    "broken_promises",
    "promise_id",
    "error_code",
    "provider_id",
    "failed_channel",
    "verdict",
    "rule",
    "undelivered_in_a_row",
)


def _action_entry(row: dict[str, Any], context: Context) -> TimelineEntry:
    at = as_utc(row["at"]) or _EPOCH
    ref, data = context.strategy_at(at)
    detail: dict[str, Any] = dict(row.get("detail") or {})
    if row["kind"] == "contact_blocked":
        return _blocked_entry(row, detail, at, ref, data, context.timezone)
    action = row["kind"]
    channel = row.get("channel") or ""
    status = row.get("status")
    found = detail.get("delivery")
    delivery: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = "contact" if action in CONTACT_ACTIONS else "decision"
    via = f" via {channel}" if channel and channel not in ("internal", "agency") else ""
    template = f" ({detail['template']})" if detail.get("template") else ""
    agency = delivery.get("agency")
    where = f" with {agency}" if agency and action == "oca_placement" else ""
    where = f" from {agency}" if agency and action == "oca_recall" else where
    outcome = detail.get("status") if action == "write_off" else None
    summary = f"{_label(action)}{where}{via}{template}: {outcome or status}"
    if action == "delivery_failure" and detail.get("verdict"):
        failed_code = f" (error {detail['error_code']})" if detail.get("error_code") else ""
        failed = detail.get("failed_channel") or "a contact"
        summary = f"failed {failed}{failed_code}: the number is judged {detail['verdict']}"
        if detail.get("rule"):
            summary += f"; later contacts meet {detail['rule']}"
    if detail.get("task_id"):
        summary += f", task {detail['task_id']}"
    inputs = {k: detail[k] for k in ACTION_INPUTS if detail.get(k) is not None}
    outbound = context.deliveries.get((str(row.get("episode")), int(row["seq"])))
    if outbound and outbound.get("provider_status"):
        provider_status = outbound["provider_status"]
        code = outbound.get("error_code")
        summary += f"; provider: {provider_status}" + (f" (error {code})" if code else "")
        inputs["delivery_status"] = provider_status
        if code:
            inputs["error_code"] = code
    if agency:
        inputs["agency"] = agency
        for key in ("period_end", "commission_rate", "recall_reason"):
            if delivery.get(key):
                inputs[key] = delivery[key]
    step = _step(data, detail.get("step_id"))
    if step is not None and int(step.get("dpd", 0)) < 0 and not detail.get("dpd"):
        # Before the due date DPD does not count down; the strategy's "DPD -1" is one day
        # before the due date, and that is what the entry shows.
        inputs["dpd"] = int(step["dpd"])
        inputs["days_to_due"] = -int(step["dpd"])
    inputs.update({"stage": row.get("stage"), "channel": channel, "status": status})
    reasons = []
    stated = str(detail.get("reason") or "")
    if stated and not _DEFAULT_REASON.match(stated):
        reasons.append(stated)
    elif step is not None:
        reasons.append("the ladder step's day came")
    if detail.get("rescheduled_by"):
        reasons.append(f"deferred: first refused by {detail['rescheduled_by']}")
    late = _late_step(step, detail, at, context.pauses)
    if late:
        reasons.append(late)
    error = delivery.get("error") or detail.get("error")
    if status == "failed":
        code = detail.get("error_code")
        why = error or (f"provider error {code}" if code else "no reason recorded")
        reasons.append(f"failed: {why}")
    rule = detail.get("rule") or _step_rule(data, detail.get("step_id"))
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=mask("; ".join(reasons)) if reasons else None,
        rule=str(rule) if rule else None,
        strategy=ref,
        inputs=_masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


def _late_step(
    step: dict[str, Any] | None, detail: dict[str, Any], at: datetime, pauses: list[Pause]
) -> str | None:
    """Why a ladder step came on a later day than its DPD: what paused the ladder then."""
    if step is None or detail.get("dpd") is None:
        return None
    late_by = int(detail["dpd"]) - int(step.get("dpd", 0))
    if late_by <= 0 or int(step.get("dpd", 0)) < 0:
        return None
    due = at - timedelta(days=late_by)
    causes = [
        p.what
        for p in pauses
        if p.since <= at and (p.until is None or p.until >= due - timedelta(days=1))
    ]
    because = f": the ladder was paused by {', '.join(causes)}" if causes else ""
    return f"due at DPD {step.get('dpd')}, taken at DPD {detail['dpd']}{because}"


def _blocked_entry(
    row: dict[str, Any],
    detail: dict[str, Any],
    at: datetime,
    ref: str | None,
    data: dict[str, Any] | None,
    timezone: str | None,
) -> TimelineEntry:
    """A contact the compliance gate refused: which one (the ladder step), the rule, and the
    earliest instant it may go, on the borrower's clock. The workflow writes `blocked_action`
    and `step_id_blocked`; older rows (and hand-written ones) may say `action`."""
    blocked = detail.get("blocked_action") or detail.get("action") or detail.get("blocked_kind")
    step_id = detail.get("step_id_blocked") or detail.get("step_id")
    rule = str(detail.get("rule") or "unknown rule")
    earliest = detail.get("rescheduled_to") or detail.get("next_allowed") or detail.get("until")
    summary = _label(blocked or "contact")
    if step_id:
        summary += f" (step {step_id})"
    summary += f" refused: {rule}"
    summary += (
        f" — earliest allowed {local_label(earliest, timezone)}"
        if earliest
        else " — dropped: no later instant is allowed"
    )
    inputs: dict[str, Any] = {
        k: detail[k] for k in ("dpd", "bucket", "amount_overdue") if k in detail
    }
    inputs.update(
        {
            "blocked_action": blocked,
            "step_id": step_id,
            "profile": detail.get("profile"),
            "channel": row.get("channel"),
            "stage": row.get("stage"),
            "earliest_allowed": earliest,
        }
    )
    reasons = [str(detail["reason"]).rstrip(".")] if detail.get("reason") else []
    step_rule = _step_rule(data, step_id) if step_id else None
    if step_rule and step_rule != f"step {step_id}":
        reasons.append(f"the contact was {step_rule}")
    return TimelineEntry(
        at=at,
        kind="contact_blocked",
        summary=summary,
        reason=mask("; ".join(reasons)) if reasons else None,
        rule=rule,
        strategy=ref,
        inputs=_masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


NOTES_WITHHELD = "notes withheld: without the workflow history the borrower's name is unknown"


def _task_entry(
    row: dict[str, Any], strategy_at: Any, effect: str | None = None, withhold_notes: bool = False
) -> TimelineEntry | None:
    """A task's end: its outcome (when a person reported one) or why it closed without one."""
    closed = as_utc(row.get("closed_at"))
    outcome = row.get("outcome")
    if closed is None and not outcome:
        return None
    at = as_utc(row.get("outcome_at")) or closed or as_utc(row.get("created_at")) or _EPOCH
    detail = row.get("detail") or {}
    if outcome:
        code = outcome.get("outcome", "reported")
        by = outcome.get("recorded_by") or row.get("outcome_by") or row.get("assignee")
        summary = f"{row['kind']} task {row['task_id']} outcome: {str(code).replace('_', ' ')}"
        summary += f" (by {by})" if by else ""
        if outcome.get("contact_info"):
            summary += "; new contact details recorded"
        kind = "outcome"
    else:
        summary = f"{row['kind']} task {row['task_id']} {row.get('status')}"
        kind = "task"
    ref, _data = strategy_at(at)
    reason = _task_reason(row, outcome, detail)
    if outcome and withhold_notes:
        outcome = {k: (MASK if k == "notes" else v) for k, v in outcome.items()}
        reason = NOTES_WITHHELD if reason else None
    if effect:
        reason = f"{reason}; {effect}" if reason else effect
    return TimelineEntry(
        at=at,
        kind=kind,
        summary=summary,
        reason=reason,
        strategy=ref,
        inputs=_masked(
            {
                "task_id": row["task_id"],
                "dpd": detail.get("dpd"),
                "stage": detail.get("stage"),
                "amount_overdue": detail.get("amount_overdue"),
                "claimed_by": row.get("assignee") if row.get("claimed_at") else None,
                **({"outcome": outcome} if outcome else {}),
            }
        ),
        source="store",
        ref=f"task {row['task_id']}",
    )


def _task_reason(
    row: dict[str, Any], outcome: dict[str, Any] | None, detail: dict[str, Any]
) -> str | None:
    if outcome:
        said = outcome.get("reason") or outcome.get("notes")
        return mask(str(said)) if said else None
    closed = detail.get("closed_reason")
    return str(closed) if closed else f"closed as {row.get('status')} without an outcome"


def _merge_payments(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """One entry per payment as applied (store), with when it arrived (history); a repeat of the
    same payment_id appears as received-and-counted-once; a payment the store never recorded
    (the account was closed, or the store lost it) appears from history alone."""
    entries: list[TimelineEntry] = []
    currency = str((store.account or {}).get("currency") or "")
    applied = {p["payment_id"]: p for p in store.payments}
    seen: set[str] = set()
    for message in (m for m in messages if m.name == "payment" and m.kind == "signal"):
        body = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        payment_id = str(body.get("payment_id", "?"))
        amount = body.get("amount")
        ref, _ = strategy_at(message.at)
        if payment_id in seen or payment_id not in applied:
            repeat = payment_id in seen
            entries.append(
                TimelineEntry(
                    at=message.at,
                    kind="payment",
                    summary=(
                        f"payment {payment_id} of {amount} {currency} received again: counted once"
                        if repeat
                        else f"payment {payment_id} of {amount} received; not applied"
                    ),
                    reason="a repeated payment_id is counted once"
                    if repeat
                    else "the account was no longer in collection, or the store lacks it",
                    strategy=ref,
                    inputs=_masked(body),
                    source="history",
                    ref=message.ref,
                )
            )
            seen.add(payment_id)
            continue
        seen.add(payment_id)
        row = applied.pop(payment_id)
        ref, data = strategy_at(message.at)
        entries.append(_payment_entry(row, message, ref, data, currency))
    for row in applied.values():  # in the store, not in (retained) history
        at = as_utc(row["paid_at"]) or _EPOCH
        ref, data = strategy_at(at)
        entries.append(_payment_entry(row, None, ref, data, currency))
    return entries


ALLOCATION = {
    "penalty_first": "penalty first, then principal, oldest instalment first",
    "principal_first": "principal first, oldest instalment first, then penalty",
}


def _payment_entry(
    row: dict[str, Any],
    message: Message | None,
    ref: str | None,
    data: dict[str, Any] | None,
    currency: str,
) -> TimelineEntry:
    at = message.at if message else (as_utc(row["paid_at"]) or _EPOCH)
    paid_at = as_utc(row["paid_at"])
    order = (data or {}).get("allocation")
    agency = f"; while placed with agency {row['agency_id']}" if row.get("agency_id") else ""
    return TimelineEntry(
        at=at,
        kind="payment",
        summary=f"payment {row['payment_id']} of {money(row['amount'])} {currency} applied; "
        f"DPD now {row['dpd']} (bucket {row['bucket']})",
        reason=f"reported by the loan system{agency}",
        rule=f"allocated {order}: {ALLOCATION.get(str(order), str(order))}"
        if order
        else "allocated by the strategy's allocation order",
        strategy=ref,
        inputs={
            "payment_id": row["payment_id"],
            "amount": money(row["amount"]),
            "currency": currency or None,
            "paid_at": f"{paid_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if paid_at else None,
            "dpd": row["dpd"],
            "bucket": row["bucket"],
            "agency_id": row.get("agency_id"),
            "commission": money(row["commission"]) if row.get("commission") is not None else None,
        },
        source="store",
        ref=message.ref if message else f"payment {row['payment_id']}",
    )


def _merge_promises(
    store: StoreRecords, messages: list[Message], strategy_at: Any
) -> list[TimelineEntry]:
    """A promise made (store, plus who recorded it from the update in history) and how it ended
    (kept, broken, ...), each at its own moment."""
    requests: dict[str, Message] = {}
    for message in messages:
        if message.kind == "update" and isinstance(message.result, dict):
            promise_id = message.result.get("promise_id")
            if not promise_id and message.name == "task_outcome":
                found = re.search(r"promise (\S+) recorded", str(message.result.get("effect")))
                promise_id = found.group(1) if found else None
            if promise_id:
                requests[str(promise_id)] = message
    entries: list[TimelineEntry] = []
    for row in store.promises:
        request = requests.pop(row["promise_id"], None)
        made = request.at if request else (as_utc(row.get("made_at")) or _EPOCH)
        body = request.args[0] if request and request.args else {}
        by = body.get("recorded_by") if isinstance(body, dict) else None
        task = None if request else _promising_task(store, row)
        if task is not None:  # without history: the task outcome that made it says who, when
            made = as_utc(task.get("outcome_at")) or made
            by = task.get("outcome_by")
        ref, data = strategy_at(made)
        rules = (data or {}).get("promises") or {}
        entries.append(
            TimelineEntry(
                at=made,
                kind="promise",
                summary=f"promise {row['promise_id']}: {money(row['amount'])} by "
                f"{row['promised_date']}" + (f" (recorded by {by})" if by else ""),
                reason=_promise_reason(request, body)
                or (
                    "the borrower promised during a task (call or visit outcome)" if task else None
                ),
                rule=(
                    f"at most {rules.get('max_days_ahead')} days ahead, judged "
                    f"{rules.get('grace_days')} day(s) after, {rules.get('tolerance_pct')} "
                    "tolerance"
                )
                if rules
                else None,
                strategy=ref,
                inputs=_masked(
                    {
                        "promise_id": row["promise_id"],
                        "amount": money(row["amount"]),
                        "promised_date": str(row["promised_date"]),
                        "pay_to": row.get("pay_to"),
                        "recorded_by": by,
                        "supervisor_override": body.get("supervisor_override")
                        if isinstance(body, dict)
                        else None,
                    }
                ),
                source="store",
                ref=request.ref if request else f"promise {row['promise_id']}",
            )
        )
        resolved = as_utc(row.get("resolved_at"))
        if row.get("status") not in (None, "open") and resolved is not None:
            entries.append(
                TimelineEntry(
                    at=resolved,
                    kind="promise",
                    summary=f"promise {row['promise_id']} {row['status']}",
                    reason=f"judged at the end of {row['promised_date']} plus the grace days",
                    strategy=strategy_at(resolved)[0],
                    inputs={"promise_id": row["promise_id"], "status": row["status"]},
                    source="store",
                    ref=f"promise {row['promise_id']}",
                )
            )
    return entries


def _promising_task(store: StoreRecords, row: dict[str, Any]) -> dict[str, Any] | None:
    """The task whose promise_to_pay outcome made this promise (same amount and date)."""
    for task in store.tasks:
        outcome = task.get("outcome") or {}
        promised = outcome.get("promise") or {}
        if (
            outcome.get("outcome") == "promise_to_pay"
            and str(promised.get("promised_date")) == str(row["promised_date"])
            and Decimal(str(promised.get("amount", "0"))) == Decimal(str(row["amount"]))
        ):
            return dict(task)
    return None


def _promise_reason(request: Message | None, body: Any) -> str | None:
    if request is None:
        return None
    if request.name == "task_outcome":
        return "the borrower promised during a task (call or visit outcome)"
    override = isinstance(body, dict) and body.get("supervisor_override")
    return "promise to pay recorded by a " + ("supervisor" if override else "collector")


def _message_entries(
    store: StoreRecords, messages: list[Message], strategy_at: Any, timezone: str | None = None
) -> list[TimelineEntry]:
    """Everything that arrived and is not a payment or a store-recorded promise."""
    tasks_with_outcome = {t["task_id"] for t in store.tasks if t.get("outcome")}
    promised = {p["promise_id"] for p in store.promises}
    entries = []
    for message in messages:
        if message.name == "payment" and message.kind == "signal":
            continue
        result = message.result if isinstance(message.result, dict) else {}
        if result.get("promise_id") in promised:
            continue
        body = message.args[0] if message.args else {}
        body = body if isinstance(body, dict) else {"value": body}
        if message.name == "task_outcome" and body.get("task_id") in tasks_with_outcome:
            continue  # the store's task entry says it, with the same outcome and its effect
        kind, summary, reason, inputs = _describe_message(message.name, body, result, timezone)
        if message.rejected:
            summary += ": the workflow refused it"
            reason = mask(message.rejected)
        entries.append(
            TimelineEntry(
                at=message.at,
                kind=kind,
                summary=summary,
                reason=mask(reason) if reason else None,
                strategy=strategy_at(message.at)[0],
                inputs=_masked(inputs if inputs is not None else body),
                source="history",
                ref=message.ref,
            )
        )
    return entries


# What each hold stops while it lasts (PLAYBOOK: holds), for the hold's entry.
HOLD_EFFECT = {
    "dispute": "collection paused and open call and visit tasks stopped until it is resolved",
    "complaint": "collection paused for the strategy's complaint days",
    "bankruptcy": "every borrower contact stopped; write-off verification starts",
    "deceased": "every borrower contact stopped; write-off verification starts",
    "cease_communication": "no more contact with the borrower except as the law allows",
    "attorney": "contact goes to the borrower's attorney only",
}


def _joined(*parts: Any) -> str | None:
    text = "; ".join(str(p) for p in parts if p)
    return text or None


def _describe_message(
    name: str, body: dict[str, Any], result: dict[str, Any], timezone: str | None = None
) -> tuple[str, str, str | None, dict[str, Any] | None]:
    """(kind, summary, reason, inputs) of a message; inputs None means the body as it came."""
    if name == "instalments":
        items = body.get("instalments") or []
        listed = ", ".join(
            f"#{i.get('seq')} {i.get('amount')} due {i.get('due_date')}" for i in items[:4]
        )
        more = f" and {len(items) - 4} more" if len(items) > 4 else ""
        return (
            "message",
            f"instalments changed by the loan system: {len(items)} unpaid: {listed}{more}",
            "the schedule changed or a new instalment was issued; DPD and amounts follow it",
            None,
        )
    if name == "add_hold":
        hold = str(body.get("kind") or result.get("kind") or "a")
        until = result.get("until")
        summary = f"{hold.replace('_', ' ')} hold placed by {body.get('reported_by', '?')}, "
        summary += f"until {local_label(until, timezone)}" if until else "until released"
        return (
            "hold",
            summary,
            _joined(HOLD_EFFECT.get(hold), body.get("reason"), body.get("notes")),
            {
                "hold": hold,
                "since": result.get("since"),
                "until": until,
                "reported_by": body.get("reported_by"),
                "attorney_phone": body.get("attorney_phone"),
            },
        )
    if name == "release_hold":
        hold = str(body.get("kind") or result.get("kind") or "a")
        return (
            "hold",
            f"{hold.replace('_', ' ')} hold released by {body.get('released_by', '?')}",
            _joined("collection resumes once no other hold is open", body.get("notes")),
            {
                "hold": hold,
                "since": result.get("since"),
                "ended": result.get("until"),
                "released_by": body.get("released_by"),
            },
        )
    if name == "contact_event":
        return _describe_contact_event(body)
    if name == "contact_info":
        info = body.get("info") or {}
        changes = []
        if result.get("phones_added") or info.get("phones"):
            changes.append(
                f"{result.get('phones_added', len(info.get('phones') or []))} phone(s) added"
            )
        if info.get("dead_phones"):
            changes.append(f"{len(info['dead_phones'])} number(s) marked dead")
        if info.get("address"):
            changes.append("address changed")
        for channel, granted in (info.get("consents") or {}).items():
            changes.append(f"{channel} consent {'given' if granted else 'withdrawn'}")
        return (
            "message",
            f"contact details changed by {body.get('recorded_by', '?')}: "
            + (", ".join(changes) or "nothing new"),
            "new numbers join the call rotation, dead ones leave it, consents apply at once",
            {"recorded_by": body.get("recorded_by"), "changes": ", ".join(changes)},
        )
    if name == "task_outcome":
        outcome = body.get("outcome") or {}
        code = str(outcome.get("outcome", "?")).replace("_", " ")
        by = body.get("recorded_by")
        return (
            "outcome",
            f"{body.get('task_kind', 'task')} task {body.get('task_id', '')} outcome: {code}"
            + (f" (by {by})" if by else ""),
            _joined(result.get("effect"), outcome.get("notes")),
            None,
        )
    if name == "hardship":
        hardship = body.get("hardship") or {}
        return (
            "message",
            f"hardship reported by {body.get('recorded_by', '?')}: {hardship.get('term')}-term, "
            f"{'surmountable' if hardship.get('surmountable') else 'not surmountable'}",
            _joined(result.get("effect"), hardship.get("cause"), hardship.get("notes")),
            None,
        )
    if name == "reassign":
        return (
            "message",
            f"account {body.get('kind', 'reassignment')}: to {body.get('to')} by {body.get('by')}",
            body.get("reason"),
            None,
        )
    if name == "recall_agency":
        return (
            "message",
            f"agency recall requested by {body.get('requested_by', '?')}",
            _joined(
                body.get("reason"),
                result.get("recalled_from") and f"recalled from {result.get('recalled_from')}",
            ),
            None,
        )
    if name == "restructure_answer":
        return (
            "message",
            f"restructure offer answered: {body.get('decision')} "
            f"(recorded by {body.get('recorded_by', '?')})",
            None,
            None,
        )
    if name == "subflow_event":
        detail = body.get("detail") or {}
        return (
            "child",
            f"{body.get('subflow', 'child')} {body.get('child_id', '')} reported "
            f"{str(body.get('kind', 'an event')).replace('_', ' ')}",
            detail.get("reason") if isinstance(detail, dict) else None,
            None,
        )
    if name == "promise":
        promised = body.get("promise") or {}
        return (
            "promise",
            f"promise of {promised.get('amount')} by {promised.get('promised_date')} "
            f"requested by {body.get('recorded_by', '?')}",
            None,
            None,
        )
    if any(word in name.lower() for word in HOLD_WORDS):
        return (
            "hold",
            f"{name.replace('_', ' ')} reported",
            _joined(body.get("notes"), body.get("reason")),
            None,
        )
    return "message", f"{name.replace('_', ' ')} received", None, None


CONTACT_EVENT_WORDS = {
    "consent_revoked": "consent withdrawn",
    "consent_restored": "consent given again",
    "delivery_failed": "delivery failed",
    "number_dead": "number reported dead",
    "inbound_reply": "borrower replied",
}


def _describe_contact_event(
    body: dict[str, Any],
) -> tuple[str, str, str | None, dict[str, Any] | None]:
    """A channel's fact: a status callback (undelivered, failed, with the provider's error code)
    or something the borrower sent (STOP, START, a reply)."""
    event = str(body.get("kind", "event"))
    channel = str(body.get("channel", "?"))
    found = body.get("detail")
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    status = detail.get("status")
    code = detail.get("error_code")
    summary = f"{channel.upper() if channel == 'sms' else channel} "
    summary += CONTACT_EVENT_WORDS.get(event, event.replace("_", " "))
    if status:
        summary += f": provider status {status}"
    if code:
        summary += f" (error {code})"
    if detail.get("action_seq") is not None:
        summary += f" for action {detail['action_seq']}"
    reason = {
        "consent_revoked": "the borrower opted out (STOP) or a collector recorded it: no more "
        f"{channel} to that number",
        "consent_restored": "the borrower opted in again",
        "delivery_failed": "the provider's status callback: the contact did not reach the borrower",
        "number_dead": "the provider says the number cannot be reached: it leaves the rotation",
        "inbound_reply": "attached to the account for the collector",
    }.get(event, "reported by the channel")
    return (
        "message",
        summary,
        reason,
        {
            "event": event,
            "channel": channel,
            "number": body.get("number"),
            "delivery_status": status,
            "error_code": code,
            "provider_id": detail.get("provider_id"),
            "action_seq": detail.get("action_seq"),
        },
    )


# ------------------------------------------------------------------------------ building


# What a timeline built from the store alone lacks: these facts are only in the workflow's
# history (Temporal keeps it for the namespace's retention period, 30 days in docker-compose).
HISTORY_ONLY = (
    "holds and their release (kind, who, since/until)",
    "messages as they arrived: instalment changes, contact-info changes, hardship reports, "
    "reassignments, channel callbacks signalled to the workflow",
    "who recorded each promise, and promise or hold requests the workflow refused",
    "repeated payments counted once",
    "task outcomes no person recorded through the task queue (e.g. from a child workflow)",
    "the episode's opening, continue-as-new points and close (with the workflow's result)",
    "child workflows (restructuring, write-off) and their events",
    "the borrower's time zone (times are shown in UTC)",
)


def _missing_without_history(store: StoreRecords) -> list[str]:
    """What a store-only timeline lacks. Holds are in the store for episodes recorded since
    patch arrears-4-hold-actions; an episode with hold actions has all of them there."""
    missing = list(HISTORY_ONLY)
    if any(row["kind"] in HOLD_ACTIONS for row in store.actions):
        missing = [m for m in missing if not m.startswith("holds and their release")]
    if store.account and store.account.get("timezone"):
        missing = [m for m in missing if not m.startswith("the borrower's time zone")]
    return missing


def _pauses(store: StoreRecords, messages: list[Message]) -> list[Pause]:
    """When the ladder waited: each promise while open, each hold until released."""
    pauses = []
    for row in store.promises:
        since = as_utc(row.get("made_at"))
        if since is not None:
            until = as_utc(row.get("resolved_at"))
            pauses.append(Pause(since, until, f"open promise {row['promise_id']}"))
    for message in messages:
        if message.name != "add_hold" or message.rejected:
            continue
        body = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        hold = str(body.get("kind", "a"))
        ended = next(
            (
                m.at
                for m in messages
                if m.name == "release_hold"
                and m.at >= message.at
                and isinstance(m.args[0] if m.args else None, dict)
                and m.args[0].get("kind") == hold
            ),
            None,
        )
        result = message.result if isinstance(message.result, dict) else {}
        if ended is None and result.get("until"):
            with contextlib.suppress(ValueError):
                ended = datetime.fromisoformat(str(result["until"]))
        pauses.append(Pause(message.at, ended, f"a {hold.replace('_', ' ')} hold"))
    return pauses


def _strategy_from_files(ref: str | None) -> dict[str, Any] | None:
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


def _close_reasons(entries: list[TimelineEntry], transitions: list[dict[str, Any]]) -> None:
    """The episode's close says why: the last transition before it."""
    ordered = sorted(transitions, key=lambda row: as_utc(row["at"]) or _EPOCH)
    for entry in entries:
        if (
            entry.kind != "workflow"
            or entry.reason
            or "the episode's workflow" not in entry.summary
        ):
            continue
        last = [t for t in ordered if (as_utc(t["at"]) or _EPOCH) <= entry.at]
        if last:
            final = last[-1]
            entry.reason = f"the account became {final['to_state']} at DPD {final['dpd']}" + (
                f": {final['reason']}" if final.get("reason") else ""
            )


async def build_timeline(client: Client | None, database_url: str, loan_id: str) -> Timeline | None:
    """The account's timeline, or None when neither the store nor Temporal knows the loan."""
    from workflows.messages import workflow_id_for

    workflow_id = workflow_id_for(loan_id)
    store = await asyncio.to_thread(read_store, database_url, loan_id)
    chain: Chain | None = None
    if client is not None:
        # Unknown to Temporal (never started, or past retention) or Temporal unreachable: the
        # store's part stands alone and the answer says `history: unavailable`.
        with contextlib.suppress(WorkflowNotFound, RPCError):
            chain = await fetch_chain(client, workflow_id)
    if store.account is None and chain is None:
        return None
    facts = await read_history(client, chain) if client is not None and chain else HistoryFacts()
    fallback = store.account.get("strategy") if store.account else None
    # Without the history's strategy snapshot, the same version from the strategy files.
    pinned = _strategy_from_files(fallback) if not facts.runs else None

    def strategy_at(at: datetime) -> tuple[str | None, dict[str, Any] | None]:
        run = _run_at(facts.runs, at)
        return (run.strategy or fallback, run.strategy_data) if run else (fallback, pinned)

    for entry in facts.entries:
        if entry.strategy is None:
            entry.strategy = strategy_at(entry.at)[0]
    effects = {
        str(m.args[0].get("task_id")): str(m.result["effect"])
        for m in facts.messages
        if m.name == "task_outcome"
        and m.args
        and isinstance(m.args[0], dict)
        and isinstance(m.result, dict)
        and m.result.get("effect")
    }
    if facts.timezone is None and store.account and store.account.get("timezone"):
        facts.timezone = str(store.account["timezone"])  # the store keeps it since migration 0009
    context = Context(
        strategy_at=strategy_at,
        timezone=facts.timezone,
        deliveries={(str(o["episode"]), int(o["action_seq"])): o for o in store.outbound},
        pauses=_pauses(store, facts.messages),
        effects=effects,
        withhold_notes=chain is None,
    )
    entries = [
        *facts.entries,
        *_store_entries(store, context),
        *_merge_payments(store, facts.messages, strategy_at),
        *_merge_promises(store, facts.messages, strategy_at),
        *_message_entries(store, facts.messages, strategy_at, facts.timezone),
    ]
    if chain is None:
        entries.extend(_inbound_entries(store, strategy_at))
    _close_reasons(entries, store.transitions)
    scrubber = facts.scrubber
    for row in store.outbound:
        scrubber.add_phone(row.get("to_number"))
    for row in store.inbound:
        scrubber.add_phone(row.get("from_number"))
    for entry in entries:
        scrubber.entry(entry)
    entries.sort(key=TimelineEntry.sort_key)
    latest = facts.runs[-1].strategy if facts.runs else None
    return Timeline(
        loan_id=loan_id,
        workflow_id=workflow_id,
        timezone=facts.timezone,
        state=store.account.get("state") if store.account else None,
        strategy=fallback or latest,
        history="complete" if chain is not None else "unavailable",
        missing=[] if chain is not None else _missing_without_history(store),
        runs=len(chain.runs) if chain else 0,
        children=len(chain.children) if chain else 0,
        entries=entries,
    )


INBOUND_WORDS = {
    "opt_out": "opted out of SMS",
    "opt_in": "opted in to SMS again",
    "help": "asked for help",
    "reply": "replied",
}


def _inbound_entries(store: StoreRecords, strategy_at: Any) -> list[TimelineEntry]:
    """What borrowers sent, from the channels' ledger (for a timeline without history, where the
    workflow's contact_event signals are gone). The text itself is never shown."""
    entries = []
    for row in store.inbound:
        at = as_utc(row.get("received_at"))
        if at is None:
            continue
        what = INBOUND_WORDS.get(str(row.get("kind")), str(row.get("kind")))
        keyword = f" ({row['keyword']})" if row.get("keyword") else ""
        entries.append(
            TimelineEntry(
                at=at,
                kind="message",
                summary=f"the borrower {what} by SMS{keyword}",
                reason="received by the SMS webhook; the workflow was told",
                strategy=strategy_at(at)[0],
                inputs={"kind": row.get("kind"), "keyword": row.get("keyword")},
                source="store",
                ref=f"inbound message {row.get('id')}",
            )
        )
    return entries


# ------------------------------------------------------------------------------ rendering


def describe_inputs(inputs: dict[str, Any]) -> str:
    """`dpd 12 · bucket M1 · amount_overdue 1206.00` for tables and reports."""
    parts = []
    for key, value in inputs.items():
        if value is None or value == "" or isinstance(value, dict | list):
            continue
        parts.append(f"{key} {value}")
    return " · ".join(parts)


HTML_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Timeline of {{ t.loan_id }}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
         color: #1d2330; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .meta { color: #5b6475; margin-bottom: 1.2rem; }
  .meta span { margin-right: 1.2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .45rem .6rem;
           border-bottom: 1px solid #e3e6ec; }
  th { background: #f4f6f9; position: sticky; top: 0; font-weight: 600; }
  td.at { white-space: nowrap; font-variant-numeric: tabular-nums; color: #39404f; }
  .kind { display: inline-block; padding: .05rem .45rem; border-radius: .6rem; font-size: 12px;
          background: #eef1f6; }
  .k-transition { background: #e5efff; } .k-payment { background: #e4f6e9; }
  .k-promise { background: #fff3d9; } .k-contact_blocked { background: #ffe3e3; }
  .k-contact { background: #eee6ff; } .k-hold { background: #ffe9d6; }
  .k-outcome { background: #e0f4f4; } .k-workflow, .k-child { background: #ececec; }
  .why { color: #39404f; } .rule { color: #5b6475; font-size: 12px; }
  .inputs { color: #5b6475; font-size: 12px; }
  .src { color: #8a92a3; font-size: 12px; }
  footer { margin-top: 1.5rem; color: #8a92a3; font-size: 12px; }
  .missing { background: #fff6e0; padding: .6rem .9rem; margin-bottom: 1rem;
             border-left: 3px solid #e0a800; }
</style>
</head>
<body>
<h1>Collections timeline — loan {{ t.loan_id }}</h1>
<div class="meta">
  <span>workflow <code>{{ t.workflow_id }}</code></span>
  <span>state <b>{{ t.state or "unknown" }}</b></span>
  <span>strategy {{ t.strategy or "unknown" }}</span>
  <span>{{ t.runs }} run(s){% if t.children %}, {{ t.children }} child workflow(s){% endif %}</span>
  <span>history {{ t.history }}</span>
  <span>{{ t.entries | length }} entries</span>
</div>
{% if t.missing %}
<div class="missing"><b>The workflow history is not available</b> (past Temporal's retention,
or Temporal unreachable): this report comes from the store alone and lacks
<ul>{% for m in t.missing %}<li>{{ m }}</li>{% endfor %}</ul></div>
{% endif %}
<table>
<thead><tr>
<th>when (UTC){% if t.timezone %}<br><small>{{ t.timezone }}</small>{% endif %}</th>
<th>what</th><th>summary</th><th>why</th><th>inputs</th>
<th>source</th></tr></thead>
<tbody>
{% for e in t.entries %}
<tr>
  <td class="at">{{ e.at.strftime("%Y-%m-%d %H:%M") }}
      {% if t.timezone %}<br><small>{{ local(e.at) }}</small>{% endif %}</td>
  <td><span class="kind k-{{ e.kind }}">{{ e.kind | replace("_", " ") }}</span></td>
  <td>{{ e.summary }}</td>
  <td><div class="why">{{ e.reason or "" }}</div>
      {% if e.rule %}<div class="rule">rule: {{ e.rule }}</div>{% endif %}
      {% if e.strategy and e.strategy != t.strategy %}
      <div class="rule">strategy {{ e.strategy }}</div>{% endif %}</td>
  <td class="inputs">{{ describe(e.inputs) }}</td>
  <td class="src">{{ e.source }}{% if e.ref %}<br>{{ e.ref }}{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
<footer>Business time covered: {{ first }} to {{ last }} (UTC), on the workflow's clock.
{% if note %}{{ note }} {% endif %}Report generated {{ generated }} by arrears from the store{% if
t.history == "complete" %} and the Temporal history of every run{% endif %}. Every row's strategy is
{{ t.strategy or "unknown" }} unless the row names another. Borrower names, phone numbers,
addresses and emails are masked, in fields and in free text.</footer>
</body>
</html>
"""


def local_time(at: datetime, timezone: str | None) -> str:
    """The instant on the borrower's clock (contact windows and due dates are local)."""
    if not timezone:
        return ""
    try:
        return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def render_html(
    timeline: Timeline, generated: datetime | None = None, note: str | None = None
) -> str:
    """A standalone HTML report (no external assets), for an auditor's file. The footer names
    the business time the entries cover and, separately, when the report was made (a report
    of a simulated episode can be generated "before" the virtual dates it reports)."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(HTML_TEMPLATE)
    made = generated or datetime.now(UTC)
    instants = [e.at for e in timeline.entries]
    return template.render(
        t=timeline,
        describe=describe_inputs,
        local=lambda at: local_time(at, timeline.timezone),
        generated=made.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        first=f"{min(instants):%Y-%m-%d %H:%M}" if instants else "-",
        last=f"{max(instants):%Y-%m-%d %H:%M}" if instants else "-",
        note=note,
    )
