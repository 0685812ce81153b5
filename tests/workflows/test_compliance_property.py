"""Property: whatever the borrower, the collectors and the loan system do — call outcomes,
payments, disputes, complaints, bankruptcy, STOP replies — the AccountWorkflow never makes a
contact that the contact rules forbid.

Hypothesis draws the scenarios (derandomized: the suite is deterministic); each runs on the real
workflow in virtual time, and every contact the workflow made is checked afterwards by the
independent auditor `domain.contact.audit_ledger`, which shares no code with the gate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_instant
from domain.contact import (
    BorrowerContext,
    ConsentChange,
    ContactRecord,
    Hold,
    audit_ledger,
    load_profile,
)
from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    TZ,
    account_json,
    actions,
    business_today,
    instant_of,
    pay,
    start,
)
from workflows.contact_gate import CONTACT_CHANNELS

EVENT_KINDS = (
    "no_answer",
    "busy",
    "refused",
    "dispute",
    "release_dispute",
    "complaint",
    "bankruptcy",
    "stop",
    "start",
    "part_payment",
)


@dataclass(frozen=True)
class Event:
    day: int
    hour: int
    kind: str


EVENTS = st.lists(
    st.builds(
        Event,
        day=st.integers(min_value=0, max_value=30),
        hour=st.integers(min_value=0, max_value=23),
        kind=st.sampled_from(EVENT_KINDS),
    ),
    min_size=2,
    max_size=8,
)
SCENARIOS: list[list[Event]] = []


@settings(max_examples=8, derandomize=True, database=None, deadline=None)
@given(events=EVENTS)
def _collect(events: list[Event]) -> None:
    SCENARIOS.append(sorted(events, key=lambda e: (e.day, e.hour)))


_collect()


async def _work_open_call(api: httpx.AsyncClient, loan: str, outcome: dict[str, Any]) -> bool:
    listed = await api.get("/v1/tasks", params={"kind": "call"}, headers=COLLECTOR)
    tasks = [t for t in listed.json() if t["loan_id"] == loan]
    if not tasks:
        return False
    answer = await api.post(
        f"/v1/tasks/{tasks[0]['task_id']}/outcome", json=outcome, headers=COLLECTOR
    )
    return answer.status_code == 200


async def test_no_sequence_of_outcomes_payments_and_holds_makes_the_workflow_break_a_rule(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    profile = load_profile("cn")
    for n, scenario in enumerate(SCENARIOS):
        loan = f"L-PROP-{n}"
        due = await business_today(workflow_env) + timedelta(days=2)
        body = account_json(loan, due, amounts=("1200.00", "1200.00"))
        number = body["borrower"]["phones"][0]["number"]
        await start(api, body)
        handle = workflow_env.client.get_workflow_handle(f"account-{loan}")
        holds: list[Hold] = []
        consents: list[ConsentChange] = []
        outcomes: dict[str, str] = {}
        for event in scenario:
            at = local_instant(due + timedelta(days=event.day), time(event.hour), TZ)
            now = await workflow_env.get_current_time()
            if at > now:
                await workflow_env.sleep(at - now)
            at = await workflow_env.get_current_time()
            if event.kind in ("no_answer", "busy", "refused"):
                outcome: dict[str, Any] = {"outcome": event.kind}
                if event.kind == "refused":
                    outcome["reason"] = "other"
                if await _work_open_call(api, loan, outcome):
                    outcomes[f"{at.isoformat()}"] = event.kind
            elif event.kind in ("dispute", "complaint", "bankruptcy"):
                path = {"dispute": "disputes", "complaint": "complaints"}.get(
                    event.kind, "bankruptcy"
                )
                payload = (
                    {"reported_by": "court"} if event.kind == "bankruptcy" else {"reason": "x"}
                )
                answer = await api.post(
                    f"/v1/accounts/{loan}/{path}", json=payload, headers=COLLECTOR
                )
                if answer.status_code == 202:
                    until = at + timedelta(days=14) if event.kind == "complaint" else None
                    holds.append(Hold(kind=event.kind, since=at, until=until))
            elif event.kind == "release_dispute":
                answer = await api.post(
                    f"/v1/accounts/{loan}/holds/dispute/release", json={}, headers=COLLECTOR
                )
                if answer.status_code == 202:
                    holds = [
                        h.ended(at) if h.kind == "dispute" and h.active_at(at) else h for h in holds
                    ]
            elif event.kind in ("stop", "start"):
                kind = "consent_revoked" if event.kind == "stop" else "consent_restored"
                await handle.signal(
                    "contact_event",
                    {"kind": kind, "channel": "sms", "number": number, "at": at.isoformat()},
                )
                consents.append(
                    ConsentChange(
                        at=at, channel="sms", granted=event.kind == "start", number=number
                    )
                )
            elif event.kind == "part_payment":
                await pay(api, loan, f"p-{event.day}-{event.hour}", "100.00", at)
        end = local_instant(due + timedelta(days=40), time(12), TZ)
        now = await workflow_env.get_current_time()
        if end > now:
            await workflow_env.sleep(end - now)

        records = _contacts(await actions(api, loan))
        violations = audit_ledger(
            records,
            holds,
            profile,
            BorrowerContext(timezone=TZ, phones=[number], country="CN"),
            consent_changes=consents,
        )
        assert violations == [], (scenario, violations)
        for child in (f"write-off-{loan}-1", f"restructure-{loan}-1"):
            with contextlib.suppress(RPCError):
                await workflow_env.client.get_workflow_handle(child).terminate("checked")
        await handle.terminate("property checked")


def _contacts(listed: list[dict[str, Any]]) -> list[ContactRecord]:
    """Every contact the workflow made, as the auditor sees it: automated sends when they went
    out, call tasks as attempts at the moment they were issued."""
    records = []
    for action in listed:
        channel = CONTACT_CHANNELS.get(action["kind"])
        if channel is None:
            continue
        at: datetime = instant_of(action)
        target = action["detail"].get("to") if channel in ("sms", "voice", "call") else None
        result = "sent" if channel in ("sms", "letter") else "unanswered"
        if channel == "field_visit":
            result = "not_met"
        records.append(ContactRecord(at=at, channel=channel, target=target, result=result))
    return records
