"""Property: whatever the borrower, the collectors and the loan system do — call outcomes
(connected or not, worked at any instant of the task's window), payments, disputes, complaints,
bankruptcy, death, an attorney, STOP replies — the AccountWorkflow never makes a contact that the
contact rules forbid, under the cn, us-regf and us-ma profiles.

Hypothesis draws the scenarios (derandomized: the suite is deterministic); each runs on the real
workflow in virtual time, and every contact the workflow made is checked afterwards by the
independent auditor `domain.contact.audit_ledger`, which shares no code with the gate:

- automated sends (SMS, voice, letters, offers) at the instant they went out;
- call tasks at the instant a collector worked them through `POST /v1/tasks/{id}/outcome` — a
  drawn instant inside the task's window, so a window that is not allowed throughout is caught —
  with the result the outcome stands for (a conversation counts for Reg F's pause);
- field visits at the instant they were issued;
- and every call and visit task's whole window (sampled every 15 minutes) against the profile's
  time window, in the address zone and (US) the phone's area-code zone, and its holidays.

The US accounts live in one zone and carry a phone from another (Los Angeles address with a New
York mobile; Boston with a Los Angeles mobile), so only a window that holds in both passes.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, local_instant
from domain.contact import (
    BorrowerContext,
    ConsentChange,
    ContactProfile,
    ContactRecord,
    Hold,
    Violation,
    audit_ledger,
    load_profile,
)
from domain.vocabulary import CONTACT_CHANNEL as CONTACT_CHANNELS
from store.models import TaskRow
from tests.conftest import COLLECTOR
from tests.workflows.helpers import (
    account_json,
    actions,
    instant_of,
    pay,
    start,
    status,
    store_rows,
)

# Weighted by repetition: mostly calls worked and the holds that end. Bankruptcy and death end
# collection for good, so a scenario has at most one of them, drawn apart (`ENDINGS`).
EVENT_KINDS = (
    *("work_call",) * 6,
    *("dispute", "release_dispute") * 2,
    "complaint",
    "attorney",
    *("release_attorney",) * 2,
    "stop",
    "start",
    *("part_payment",) * 2,
)
OUTCOMES = ("no_answer", "busy", "refused", "promise_to_pay", "callback_requested", "refused")
CONNECTED = frozenset({"refused", "promise_to_pay", "callback_requested"})
# Offer letters the subflows ask for: a letter, to the borrower or to the estate.
OFFER_PARTIES = {"restructure_offer": "borrower", "settlement_offer": "guarantor"}
SAMPLE_EVERY = timedelta(minutes=15)
HORIZON_DAYS = 40
MAX_HOPS = 12


@dataclass(frozen=True)
class Borrower:
    """Who the scenario's account belongs to under one profile."""

    profile: str
    jurisdiction: str
    timezone: str
    phone: str
    locale: str
    currency: str

    @property
    def context(self) -> BorrowerContext:
        country, _, subdivision = self.jurisdiction.partition("-")
        return BorrowerContext(
            timezone=self.timezone,
            phones=[self.phone],
            country=country,
            subdivision=subdivision or None,
        )


BORROWERS = (
    Borrower("cn", "CN", "Asia/Shanghai", "+8613800138000", "zh-CN", "CNY"),
    Borrower("us-regf", "US", "America/Los_Angeles", "+12125550123", "en-US", "USD"),
    Borrower("us-ma", "US-MA", "America/New_York", "+13105550123", "en-US", "USD"),
)


@dataclass(frozen=True)
class Event:
    day: int
    hour: int
    kind: str
    outcome: str
    fraction: float


EVENTS = st.lists(
    st.builds(
        Event,
        day=st.integers(min_value=-1, max_value=32),
        hour=st.integers(min_value=0, max_value=23),
        kind=st.sampled_from(EVENT_KINDS),
        outcome=st.sampled_from(OUTCOMES),
        fraction=st.floats(min_value=0.0, max_value=0.999, allow_nan=False),
    ),
    min_size=3,
    max_size=12,
)
ENDINGS = st.one_of(
    st.none(),
    st.builds(
        Event,
        day=st.integers(min_value=3, max_value=32),
        hour=st.integers(min_value=0, max_value=23),
        kind=st.sampled_from(("deceased", "bankruptcy")),
        outcome=st.just("no_answer"),
        fraction=st.just(0.0),
    ),
)
SCENARIOS: list[list[Event]] = []
EXAMPLES_PER_PROFILE = 10


@settings(
    max_examples=EXAMPLES_PER_PROFILE * len(BORROWERS),
    derandomize=True,
    database=None,
    deadline=None,
)
@given(events=EVENTS, ending=ENDINGS)
def _collect(events: list[Event], ending: Event | None) -> None:
    drawn = [*events, ending] if ending is not None else events
    SCENARIOS.append(sorted(drawn, key=lambda e: (e.day, e.hour)))


_collect()


@dataclass
class Run:
    """What the scenario did to one account, for the auditor."""

    loan: str
    who: Borrower
    holds: list[Hold]
    consents: list[ConsentChange]
    calls: list[ContactRecord]
    worked: int = 0


async def _sleep_to(env: WorkflowEnvironment, at: datetime) -> datetime:
    now = await env.get_current_time()
    if at > now:
        await env.sleep(at - now)
    return await env.get_current_time()


def _utc(value: Any) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _open_call(database_url: str, loan: str, now: datetime) -> dict[str, Any] | None:
    tasks = [
        t
        for t in store_rows(database_url, TaskRow, loan)
        if t["kind"] == "call"
        and t["status"] == "open"
        and (t["not_after"] is None or _utc(t["not_after"]) > now)
    ]
    return min(tasks, key=lambda t: _utc(t["not_before"])) if tasks else None


def _outcome_body(event: Event, now: datetime, tz: str) -> dict[str, Any]:
    body: dict[str, Any] = {"outcome": event.outcome}
    if event.outcome == "refused":
        body["reason"] = "other"
    elif event.outcome == "promise_to_pay":
        body["promise"] = {
            "amount": "100.00",
            "promised_date": (local_date(now, tz) + timedelta(days=3)).isoformat(),
            "pay_to": "the app",
        }
    elif event.outcome == "callback_requested":
        body["at"] = (now + timedelta(hours=2 + event.hour)).isoformat()
    return body


async def _next_open_call(
    env: WorkflowEnvironment, api: httpx.AsyncClient, database_url: str, loan: str, until: datetime
) -> dict[str, Any] | None:
    """The open call task, or the next one the workflow issues before `until`: hop from one of
    the workflow's planned moments (`next_action`) to the next until a call task is open."""
    for _ in range(MAX_HOPS):
        now = await env.get_current_time()
        task = _open_call(database_url, loan, now)
        if task is not None:
            return task
        planned = (await status(api, loan)).get("next_action")
        if not planned:
            return None
        at = max(_utc(planned["at"]), now) + timedelta(seconds=1)
        if at >= until:
            return None
        await _sleep_to(env, at)
    return None


async def _work_call(
    env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    database_url: str,
    run: Run,
    event: Event,
    until: datetime,
) -> None:
    """A collector works the open (or next) call task at a drawn instant of its window."""
    task = await _next_open_call(env, api, database_url, run.loan, until)
    if task is None:
        return
    now = await env.get_current_time()
    opens = max(_utc(task["not_before"]), now)
    closes = _utc(task["not_after"]) if task["not_after"] else opens + timedelta(hours=2)
    at = await _sleep_to(env, opens + (closes - opens) * event.fraction)
    answer = await api.post(
        f"/v1/tasks/{task['task_id']}/outcome",
        json=_outcome_body(event, at, run.who.timezone),
        headers=COLLECTOR,
    )
    if answer.status_code != 200:
        return
    run.worked += 1
    connected = event.outcome in CONNECTED
    run.calls.append(
        ContactRecord(
            at=at,
            channel="call",
            target=(task["detail"] or {}).get("to"),
            result="connected" if connected else "unanswered",
            conversation=connected,
            party=(task["detail"] or {}).get("party") or "borrower",
            purpose=(task["detail"] or {}).get("purpose") or "collect",
        )
    )


async def _hold(api: httpx.AsyncClient, run: Run, event: Event, at: datetime) -> None:
    kind = event.kind
    if kind.startswith("release_"):
        held = kind.removeprefix("release_")
        answer = await api.post(
            f"/v1/accounts/{run.loan}/holds/{held}/release", json={}, headers=COLLECTOR
        )
        if answer.status_code == 202:
            run.holds = [
                h.ended(at) if h.kind == held and h.active_at(at) else h for h in run.holds
            ]
        return
    path, payload = {
        "dispute": ("disputes", {"reason": "the fee"}),
        "complaint": ("complaints", {"reason": "rude"}),
        "bankruptcy": ("bankruptcy", {"reported_by": "court notice"}),
        "deceased": ("deceased", {"reported_by": "the spouse"}),
        "attorney": ("attorney", {"name": "Zhang Lei", "phone": "+8613700137000"}),
    }[kind]
    answer = await api.post(f"/v1/accounts/{run.loan}/{path}", json=payload, headers=COLLECTOR)
    if answer.status_code == 202:
        until = at + timedelta(days=14) if kind == "complaint" else None
        run.holds.append(Hold(kind=kind, since=at, until=until))


async def _play(
    env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    database_url: str,
    n: int,
    scenario: list[Event],
) -> tuple[Run, date]:
    who = BORROWERS[n % len(BORROWERS)]
    loan = f"L-PROP-{n}-{who.profile}"
    due = local_date(await env.get_current_time(), who.timezone) + timedelta(days=2)
    body = account_json(loan, due, amounts=("1200.00", "1200.00"))
    body["borrower"].update(
        timezone=who.timezone,
        locale=who.locale,
        phones=[{"kind": "mobile", "number": who.phone}],
    )
    body.update(currency=who.currency, jurisdiction=who.jurisdiction)
    await start(api, body)
    handle = env.client.get_workflow_handle(f"account-{loan}")
    run = Run(loan=loan, who=who, holds=[], consents=[], calls=[])
    horizon = local_instant(due + timedelta(days=HORIZON_DAYS - 2), time(0), who.timezone)
    for event in scenario:
        at = local_instant(due + timedelta(days=event.day), time(event.hour), who.timezone)
        at = await _sleep_to(env, at)
        if event.kind == "work_call":
            await _work_call(env, api, database_url, run, event, horizon)
        elif event.kind in ("stop", "start"):
            kind = "consent_revoked" if event.kind == "stop" else "consent_restored"
            await handle.signal(
                "contact_event",
                {"kind": kind, "channel": "sms", "number": who.phone, "at": at.isoformat()},
            )
            run.consents.append(
                ConsentChange(at=at, channel="sms", granted=event.kind == "start", number=who.phone)
            )
        elif event.kind == "part_payment":
            await pay(api, loan, f"p-{event.day}-{event.hour}", "100.00", at)
        else:
            await _hold(api, run, event, at)
    return run, due


def _sent(listed: list[dict[str, Any]]) -> list[ContactRecord]:
    """The automated contacts and visits, as the auditor sees them: when they went out, to whom
    and why. Call tasks are audited when they were worked (`Run.calls`), not when issued."""
    records = []
    for action in listed:
        kind, detail = action["kind"], action["detail"]
        channel = "letter" if kind in OFFER_PARTIES else CONTACT_CHANNELS.get(kind)
        if channel is None or channel == "call":
            continue
        party = detail.get("party") or OFFER_PARTIES.get(kind, "borrower")
        records.append(
            ContactRecord(
                at=instant_of(action),
                channel=channel,
                target=detail.get("to") if channel in ("sms", "voice") else None,
                result={"sms": "sent", "letter": "sent", "voice": "unanswered"}.get(
                    channel, "not_met"
                ),
                party=party,
                purpose=detail.get("purpose") or "collect",
            )
        )
    return records


def _window_breaches(
    tasks: list[dict[str, Any]], profile: ContactProfile, ctx: BorrowerContext
) -> list[tuple[str, Violation]]:
    """Every 15 minutes of every call and visit task's window must be allowed by the time
    window (address and phone zones) and the holidays: a collector may work it at any of them."""
    found = []
    for task in tasks:
        channel = "call" if task["kind"] == "call" else "field_visit"
        if task["kind"] not in ("call", "field_visit"):
            continue
        opens = _utc(task["not_before"])
        closes = _utc(task["not_after"]) if task["not_after"] else opens + SAMPLE_EVERY
        instants = [opens + SAMPLE_EVERY * i for i in range(int((closes - opens) / SAMPLE_EVERY))]
        instants.append(closes - timedelta(seconds=1))
        target = (task["detail"] or {}).get("to") if channel == "call" else None
        for at in instants:
            record = ContactRecord(
                at=at,
                channel=channel,
                target=target,
                result="unanswered" if channel == "call" else "not_met",
            )
            found += [
                (task["task_id"], v)
                for v in audit_ledger([record], [], profile, ctx)
                if v.rule == (profile.window.rule if profile.window else None)
                or v.rule.startswith("holiday.")
            ]
    return found


async def test_no_sequence_of_outcomes_payments_and_holds_makes_the_workflow_break_a_rule(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    covered: set[str] = set()
    seen: Counter[str] = Counter()
    for n, scenario in enumerate(SCENARIOS):
        run, due = await _play(workflow_env, api, database_url, n, scenario)
        who = run.who
        await _sleep_to(
            workflow_env,
            local_instant(due + timedelta(days=HORIZON_DAYS), time(12), who.timezone),
        )
        profile = load_profile(who.profile)
        records = _sent(await actions(api, run.loan)) + run.calls
        violations = audit_ledger(
            records, run.holds, profile, who.context, consent_changes=run.consents
        )
        assert violations == [], (who.profile, scenario, violations)
        tasks = store_rows(database_url, TaskRow, run.loan)
        assert _window_breaches(tasks, profile, who.context) == [], (who.profile, scenario)
        covered.add(who.profile)
        seen.update(
            [f"{who.profile}:worked"] * len(run.calls)
            + [f"{who.profile}:connected" for c in run.calls if c.result == "connected"]
            + [h.kind for h in run.holds]
        )
        for child in (f"write-off-{run.loan}-1", f"restructure-{run.loan}-1"):
            with contextlib.suppress(RPCError):
                await workflow_env.client.get_workflow_handle(child).terminate("checked")
        with contextlib.suppress(RPCError):
            await workflow_env.client.get_workflow_handle(f"account-{run.loan}").terminate(
                "property checked"
            )
    assert covered == {b.profile for b in BORROWERS}
    # The scenarios exercise what they claim to: calls worked and connected under every
    # profile, and each kind of hold.
    for who in BORROWERS:
        assert seen[f"{who.profile}:worked"] >= 5 and seen[f"{who.profile}:connected"] >= 2, seen
    assert all(seen[kind] > 0 for kind in ("dispute", "complaint", "attorney", "deceased")), seen
    assert seen["bankruptcy"] > 0, seen
