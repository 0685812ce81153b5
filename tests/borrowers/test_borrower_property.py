"""Property, for a borrower with several loans (issue 16): whatever the collectors, the borrower
and the loan system do to any of the loans — calls worked with any outcome at any instant of
their windows, payments, disputes, complaints, an attorney, bankruptcy, death, STOP replies — no
contact of any loan breaks a rule of the profile counted for the person (cn, us-regf, us-ma).

The scenarios are drawn by Hypothesis (derandomized) as in tests/workflows/
test_compliance_property.py, whose players and auditor inputs this reuses; each event names the
loan it happens to. Every loan's contacts are then audited together by the independent auditor
`domain.contact.audit_ledger` with the borrower holds (which bind every loan), and each loan's
alone with its own holds too (a dispute holds only its loan).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, local_instant
from domain.contact import BORROWER_HOLDS, ConsentChange, Hold, audit_ledger, load_profile
from domain.vocabulary import CLOSED_STATES
from store.models import TaskRow
from tests.conftest import COLLECTOR
from tests.workflows.helpers import account_json, actions, pay, start, status, store_rows
from tests.workflows.test_compliance_property import (
    BORROWERS,
    EVENT_KINDS,
    HORIZON_DAYS,
    MAX_HOPS,
    OUTCOMES,
    Event,
    Run,
    _open_call,
    _utc,
)
from tests.workflows.test_compliance_property import _sent as sent_records
from tests.workflows.test_compliance_property import _sleep_to as sleep_to
from tests.workflows.test_compliance_property import _window_breaches as window_breaches
from tests.workflows.test_compliance_property import _work_call as work_call


@dataclass(frozen=True)
class LoanEvent:
    event: Event
    loan: int


LOANS_EVENTS = st.lists(
    st.builds(
        LoanEvent,
        event=st.builds(
            Event,
            day=st.integers(min_value=-1, max_value=32),
            hour=st.integers(min_value=0, max_value=23),
            kind=st.sampled_from(EVENT_KINDS),
            outcome=st.sampled_from(OUTCOMES),
            fraction=st.floats(min_value=0.0, max_value=0.999, allow_nan=False),
        ),
        loan=st.integers(min_value=0, max_value=2),
    ),
    min_size=4,
    max_size=14,
)
SCENARIOS: list[list[LoanEvent]] = []
OFF_GRID = timedelta(seconds=23, microseconds=417_000)
EXAMPLES_PER_PROFILE = 6


@settings(
    max_examples=EXAMPLES_PER_PROFILE * len(BORROWERS),
    derandomize=True,
    database=None,
    deadline=None,
)
@given(events=LOANS_EVENTS)
def _collect(events: list[LoanEvent]) -> None:
    SCENARIOS.append(sorted(events, key=lambda e: (e.event.day, e.event.hour)))


_collect()


@dataclass
class Borrower:
    """What the scenario did to the person: every loan's run, and the holds that bind all."""

    runs: list[Run]
    holds: list[Hold]
    consents: list[ConsentChange]


async def _hold(
    api: httpx.AsyncClient, person: Borrower, run: Run, kind: str, at: datetime
) -> None:
    """A hold reported (or released) on one loan; a borrower hold binds (or frees) them all."""
    if kind.startswith("release_"):
        held = kind.removeprefix("release_")
        answer = await api.post(
            f"/v1/accounts/{run.loan}/holds/{held}/release", json={}, headers=COLLECTOR
        )
        if answer.status_code == 202:
            bound = person.holds if held in BORROWER_HOLDS else run.holds
            bound[:] = [h.ended(at) if h.kind == held and h.active_at(at) else h for h in bound]
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
        (person.holds if kind in BORROWER_HOLDS else run.holds).append(
            Hold(kind=kind, since=at, until=until)
        )


async def _settled(api: httpx.AsyncClient, task_id: str, others: list[str]) -> None:
    """Until the outcome on a task naming several loans has reached the others (the borrower
    passes it on by signal), in real time: skipping time while that signal is on its way lets
    the time-skipping server fire a timer the receiving task then cancels, which strands the
    run (temporalio/sdk-java#3088). A loan that has closed takes nothing."""
    for _ in range(100):
        waiting = []
        for loan in others:
            listed = await actions(api, loan)
            taken = any(
                a["kind"] == "shared_outcome" and a["detail"].get("shared_task") == task_id
                for a in listed
            )
            if not taken and (await status(api, loan))["state"] not in CLOSED_STATES:
                waiting.append(loan)
        if not waiting:
            return
        await asyncio.sleep(0.05)


async def _work_borrower_call(
    env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    database_url: str,
    person: Borrower,
    run: Run,
    event: Event,
    until: datetime,
) -> None:
    """A collector works the borrower's open (or next) call task that names this loan: the
    loan's own, or another loan's consolidated task that lists it (docs/borrowers.md), worked
    on its own loan, where the call is counted once."""
    for _ in range(MAX_HOPS):
        now = await env.get_current_time()
        for owner in person.runs:
            task = _open_call(database_url, owner.loan, now)
            named = [n["loan_id"] for n in (task or {}).get("detail", {}).get("loans") or []]
            if task is not None and (owner is run or run.loan in named):
                # Not at the window's first instant either: the named loans' own ladders wake
                # then (their covered call steps), and the outcome reaches them by signal.
                opens = _utc(task["not_before"]) + OFF_GRID
                if now < opens:
                    await sleep_to(env, opens)
                await work_call(env, api, database_url, owner, event, until)
                await _settled(api, task["task_id"], [n for n in named if n != owner.loan])
                return
        planned = [(await status(api, r.loan)).get("next_action") for r in person.runs]
        moments = [_utc(p["at"]) for p in planned if p]
        if not moments:
            return
        at = max(min(moments), now) + timedelta(seconds=1)
        if at >= until:
            return
        await sleep_to(env, at)


async def _play(
    env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    database_url: str,
    n: int,
    scenario: list[LoanEvent],
) -> tuple[Borrower, date]:
    who = BORROWERS[n % len(BORROWERS)]
    count = 2 + n % 2
    due = local_date(await env.get_current_time(), who.timezone) + timedelta(days=2)
    person = Borrower(runs=[], holds=[], consents=[])
    for i in range(count):
        loan = f"L-BPROP-{n}-{i}"
        # Subprime loans (every other borrower): calls on DPD 1, 2, 4, 7 and a voice reminder.
        segment = "subprime" if n % 2 else "standard"
        body = account_json(loan, due, amounts=("1200.00", "1200.00"), segment=segment)
        body["borrower"].update(
            id=f"B-PROP-{n}",
            timezone=who.timezone,
            locale=who.locale,
            phones=[{"kind": "mobile", "number": who.phone}],
        )
        body.update(currency=who.currency, jurisdiction=who.jurisdiction)
        await start(api, body)
        person.runs.append(Run(loan=loan, who=who, holds=[], consents=[], calls=[]))
    horizon = local_instant(due + timedelta(days=HORIZON_DAYS - 2), time(0), who.timezone)
    for item in scenario:
        event, run = item.event, person.runs[item.loan % count]
        at = local_instant(due + timedelta(days=event.day), time(event.hour), who.timezone)
        # Off the grid (simulator/stalls.off_grid): a message sent at the whole hour a workflow's
        # timer fires races it, and the time-skipping server strands a run whose task cancels a
        # timer that fired meanwhile (temporalio/sdk-java#3088). The borrower's signals to the
        # other loans (holds, withdrawals, numbers, shared outcomes) follow such messages.
        at = await sleep_to(env, at + OFF_GRID)
        if event.kind == "work_call":
            await _work_borrower_call(env, api, database_url, person, run, event, horizon)
        elif event.kind in ("stop", "start"):
            # A STOP reply reaches every loan with the number (api/routes/webhooks.py).
            kind = "consent_revoked" if event.kind == "stop" else "consent_restored"
            for each in person.runs:
                await env.client.get_workflow_handle(f"account-{each.loan}").signal(
                    "contact_event",
                    {"kind": kind, "channel": "sms", "number": who.phone, "at": at.isoformat()},
                )
            person.consents.append(
                ConsentChange(at=at, channel="sms", granted=event.kind == "start", number=who.phone)
            )
        elif event.kind == "part_payment":
            await pay(api, run.loan, f"p-{event.day}-{event.hour}", "100.00", at)
        else:
            await _hold(api, person, run, event.kind, at)
    return person, due


async def test_no_sequence_on_any_loan_makes_the_borrower_contacted_beyond_a_rule(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    seen: Counter[str] = Counter()
    for n, scenario in enumerate(SCENARIOS):
        person, due = await _play(workflow_env, api, database_url, n, scenario)
        who = person.runs[0].who
        await sleep_to(
            workflow_env,
            local_instant(due + timedelta(days=HORIZON_DAYS), time(12), who.timezone),
        )
        profile = load_profile(who.profile)
        everyone = []
        for run in person.runs:
            listed = await actions(api, run.loan)
            records = sent_records(listed) + run.calls
            everyone += records
            alone = audit_ledger(
                records,
                run.holds + person.holds,
                profile,
                who.context,
                consent_changes=person.consents,
            )
            assert alone == [], (who.profile, run.loan, scenario, alone)
            tasks = store_rows(database_url, TaskRow, run.loan)
            assert window_breaches(tasks, profile, who.context) == [], (who.profile, scenario)
            seen.update(
                f"{who.profile}:{a['detail']['rule']}"
                for a in listed
                if a["kind"] == "contact_blocked" and a["detail"]["rule"].startswith("borrower.")
            )
            seen[f"{who.profile}:worked"] += len(run.calls)
        together = audit_ledger(
            sorted(everyone, key=lambda r: r.at),
            person.holds,
            profile,
            who.context,
            consent_changes=person.consents,
        )
        assert together == [], (who.profile, scenario, together)
        for run in person.runs:
            for child in (f"write-off-{run.loan}-1", f"restructure-{run.loan}-1"):
                with contextlib.suppress(RPCError):
                    await workflow_env.client.get_workflow_handle(child).terminate("checked")
            with contextlib.suppress(RPCError):
                await workflow_env.client.get_workflow_handle(f"account-{run.loan}").terminate(
                    "property checked"
                )
        with contextlib.suppress(RPCError):
            await workflow_env.client.get_workflow_handle(f"borrower-B-PROP-{n}").terminate(
                "property checked"
            )
    # The scenarios reach the borrower's authority: calls worked under every profile, and
    # contacts refused for the other loans' sake.
    for who in BORROWERS:
        assert seen[f"{who.profile}:worked"] >= 3, seen
    assert sum(v for k, v in seen.items() if ":borrower." in k) > 0, seen
