"""One contact authority per borrower (issue 16; CONTRACT.md "Borrowers"), through the API on
the time-skipping server: the caps of the contact profile count the person's contacts across
all of their loans, a borrower hold reported on one loan holds (and its release releases) every
loan, a borrower id with conflicting facts is refused, and a loan without `borrower.id` is its
own borrower exactly as before."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import local_date, local_instant, zone
from store.models import TaskRow
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import (
    TZ,
    account_json,
    actions,
    business_today,
    instant_of,
    pay,
    sleep_until,
    start,
    status,
    store_rows,
)
from workflows.contracts import borrowers as borrower_contract

NY = "America/New_York"
CONTACT_KINDS = {"sms_reminder", "voice_reminder", "call_task", "letter", "field_visit"}


def utc(value: datetime) -> datetime:
    """The store gives naive UTC instants on SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=zone("UTC"))


def borrower_body(loan: str, due: date, borrower_id: str | None, **changes: Any) -> dict[str, Any]:
    body = account_json(loan, due, segment=changes.pop("segment", "standard"))
    if borrower_id is not None:
        body["borrower"]["id"] = borrower_id
    body["borrower"].update(changes.pop("person", {}))
    body.update(changes)
    return body


def us_body(loan: str, due: date, borrower_id: str | None) -> dict[str, Any]:
    return borrower_body(
        loan,
        due,
        borrower_id,
        segment="subprime",
        person={
            "timezone": NY,
            "locale": "en-US",
            "name": "Jane Roe",
            "phones": [{"kind": "mobile", "number": "+12125550123"}],
        },
        currency="USD",
        jurisdiction="US",
    )


def call_tasks(database_url: str, loans: list[str]) -> list[dict[str, Any]]:
    rows = [t for loan in loans for t in store_rows(database_url, TaskRow, loan)]
    return sorted((t for t in rows if t["kind"] == "call"), key=lambda t: utc(t["created_at"]))


def most_calls_counted(tasks: list[dict[str, Any]], tz: str, days: int) -> int:
    """The most call tasks of the borrower counted together at any task's creation: those
    created by then and not closed unworked before it (a worked or open task is a call that
    counts; one that expired or was cancelled before is not), whose window opens within `days`
    local days of the new task's."""
    most = 0
    for task in tasks:
        at = utc(task["created_at"])
        day = local_date(utc(task["not_before"]), tz)
        counted = [
            c
            for c in tasks
            if utc(c["created_at"]) <= at
            and (c["closed_at"] is None or utc(c["closed_at"]) > at or c["status"] == "done")
            and abs((local_date(utc(c["not_before"]), tz) - day).days) < days
        ]
        most = max(most, len(counted))
    return most


async def blocked_by(api: httpx.AsyncClient, loans: list[str]) -> list[str]:
    return [
        a["detail"]["rule"]
        for loan in loans
        for a in await actions(api, loan)
        if a["kind"] == "contact_blocked"
    ]


# ----------------------------------------------------------------------- caps across loans


async def test_cn_three_connected_calls_a_day_count_every_loan_of_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Four loans of one borrower fall due on different days, so that on one day their ladders
    want calls in each of the three right-party slots (DPD 2 at 10:00, DPD 9 at 14:00, DPD 5
    and DPD 14 at 19:00). The person may have at most 3 connected calls a day (an open call
    task counts): the three tasks of three loans use the day up together, and the fourth
    loan's call joins the evening task of the other loan that names it (consolidation) instead
    of asking for a fourth."""
    loans = [f"L-BOR-CN-{i}" for i in range(4)]
    today = await business_today(workflow_env)
    day = today + timedelta(days=15)
    dpds = {loans[0]: 2, loans[1]: 5, loans[2]: 9, loans[3]: 14}
    for loan in loans:
        await start(api, borrower_body(loan, day - timedelta(days=dpds[loan]), "B-CN"))
    # The morning and afternoon calls are worked and connect (the borrower says they paid).
    for hour in (10, 14):
        await sleep_until(workflow_env, day, hour=hour)
        await workflow_env.sleep(timedelta(minutes=15))
        [task] = [t for t in call_tasks(database_url, loans) if t["status"] == "open"]
        answer = await api.post(
            f"/v1/tasks/{task['task_id']}/outcome",
            json={"outcome": "paid_claimed"},
            headers=COLLECTOR,
        )
        assert answer.status_code == 200, answer.text
    await sleep_until(workflow_env, day, hour=19)
    await workflow_env.sleep(timedelta(minutes=15))

    tasks = call_tasks(database_url, loans)
    on_day = [t for t in tasks if local_date(utc(t["not_before"]), TZ) == day]
    assert len(on_day) == 3, on_day
    assert all(len(t["detail"]["loans"]) == 4 for t in on_day), "each names the four loans"
    evening = on_day[-1]
    assert evening["loan_id"] in (loans[1], loans[3])
    other = loans[3] if evening["loan_id"] == loans[1] else loans[1]
    joined = [a for a in await actions(api, other) if a["kind"] == "consolidated"]
    assert [a["detail"]["into_task"] for a in joined] == [evening["task_id"]]
    assert most_calls_counted(tasks, TZ, days=1) <= 3
    view = await api.get("/v1/borrowers/B-CN", headers=SUPERVISOR)
    assert view.status_code == 200, view.text
    assert view.json()["contacts_left"] == {"cn.connected_calls_per_day": 0}
    assert sorted(loan["loan_id"] for loan in view.json()["loans"]) == loans
    # A call nobody worked leaves the count when its window ends: it never happened.
    await sleep_until(workflow_env, day, hour=22)
    view = await api.get("/v1/borrowers/B-CN", headers=SUPERVISOR)
    assert view.json()["contacts_left"] == {"cn.connected_calls_per_day": 1}


async def test_without_borrower_id_each_loan_is_its_own_borrower_as_before(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """The same four loans sent without `borrower.id` (the same name is no identity): each is
    its own borrower, all four DPD 2 calls go out, nothing is refused for the others' sake."""
    loans = [f"L-BOR-SOLO-{i}" for i in range(4)]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, None))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=13)

    tasks = call_tasks(database_url, loans)
    on_dpd_2 = [t for t in tasks if local_date(utc(t["not_before"]), TZ) == due + timedelta(2)]
    assert len(on_dpd_2) == 4
    assert not [r for r in await blocked_by(api, loans) if r.startswith("borrower.")]
    solo = await api.get(f"/v1/borrowers/{loans[0]}", headers=SUPERVISOR)
    assert solo.status_code == 200, solo.text
    assert [loan["loan_id"] for loan in solo.json()["loans"]] == [loans[0]]
    assert solo.json()["contacts_left"] is None
    assert solo.json()["holds"] == []
    ceased = await api.post(
        f"/v1/accounts/{loans[0]}/cease-communication", json={}, headers=COLLECTOR
    )
    assert ceased.status_code == 202, ceased.text
    await workflow_env.sleep(timedelta(minutes=5))
    solo = await api.get(f"/v1/borrowers/{loans[0]}", headers=SUPERVISOR)
    assert [h["kind"] for h in solo.json()["holds"]] == ["cease_communication"]
    # Its own hold only: the other loans are other borrowers.
    assert (await status(api, loans[1]))["holds"] == []


async def work_every_call(
    env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    database_url: str,
    loans: list[str],
    first: date,
    last: date,
    tz: str,
) -> None:
    """A collector works every open call task of the loans, unanswered, a quarter past each
    hour a call window may open (08:00 and the strategy's slots), from `first` to `last`."""
    day = first
    while day <= last:
        for hour in (8, 10, 14, 19):
            at = local_instant(day, time(hour, 15), tz)
            now = await env.get_current_time()
            if at > now:
                await env.sleep(at - now)
            for task in call_tasks(database_url, loans):
                opens, closes = utc(task["not_before"]), utc(task["not_after"])
                if task["status"] != "open" or not opens <= at < closes:
                    continue
                answer = await api.post(
                    f"/v1/tasks/{task['task_id']}/outcome",
                    json={"outcome": "no_answer"},
                    headers=COLLECTOR,
                )
                # An outcome may close the loan's other open calls before the store hears of it.
                closed = answer.status_code == 409 and "task_closed" in answer.text
                assert answer.status_code == 200 or closed, answer.text
        day += timedelta(days=1)


def most_in_days(instants: list[datetime], tz: str, days: int) -> int:
    """The most of `instants` within any `days` consecutive local days."""
    local = sorted(local_date(i, tz) for i in instants)
    return max((sum(1 for d in local if 0 <= (d - x).days < days) for x in local), default=0)


async def test_us_regf_seven_calls_in_seven_days_count_every_loan_of_the_borrower(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Regulation F, counted for the person: two subprime loans each want calls on DPD 1, 2,
    4 and 7, and a collector dials every one (eight attempts in eight days); the borrower gets
    at most seven call attempts in any seven consecutive days across both loans. The second
    loan falls due a day later, so no two calls are open at once (overlapping calls would be
    one consolidated task)."""
    loans = ["L-BOR-US-1", "L-BOR-US-2"]
    due = local_date(await workflow_env.get_current_time(), NY) + timedelta(days=2)
    for i, loan in enumerate(loans):
        await start(api, us_body(loan, due + timedelta(days=i), "B-US"))
    await work_every_call(workflow_env, api, database_url, loans, due, due + timedelta(days=13), NY)

    dialled = [
        utc(t["closed_at"]) for t in call_tasks(database_url, loans) if t["status"] == "done"
    ]
    # The person's calls reach the cap (the borrower's authority refuses the next ones naming
    # it) and never pass it; fewer than 7 may be dialled in a week where a call task that
    # named both loans stood for two of the ladders' steps.
    assert 6 <= most_in_days(dialled, NY, days=7) <= 7, dialled
    assert "borrower.us_regf.seven_in_seven" in await blocked_by(api, loans)


# ----------------------------------------------------------------------- borrower holds


async def test_a_hold_reported_on_one_loan_holds_all_and_its_release_releases_all(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loans = ["L-BOR-HOLD-1", "L-BOR-HOLD-2", "L-BOR-HOLD-3"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-HOLD"))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)

    reported = await api.post(
        f"/v1/accounts/{loans[0]}/cease-communication", json={}, headers=COLLECTOR
    )
    assert reported.status_code == 202, reported.text
    since = await workflow_env.get_current_time()
    await workflow_env.sleep(timedelta(minutes=5))
    for loan in loans:
        assert [h["kind"] for h in (await status(api, loan))["holds"]] == ["cease_communication"]
    view = (await api.get("/v1/borrowers/B-HOLD", headers=COLLECTOR)).json()
    assert [h["kind"] for h in view["holds"]] == ["cease_communication"]

    await sleep_until(workflow_env, due + timedelta(days=6), hour=12)
    for loan in loans:
        contacts = [
            a
            for a in await actions(api, loan)
            if a["kind"] in CONTACT_KINDS and instant_of(a) > since
        ]
        assert contacts == [], (loan, contacts)

    released = await api.post(
        f"/v1/accounts/{loans[1]}/holds/cease_communication/release", json={}, headers=COLLECTOR
    )
    assert released.status_code == 202, released.text
    await workflow_env.sleep(timedelta(minutes=5))
    for loan in loans:
        assert (await status(api, loan))["holds"] == []
    assert (await api.get("/v1/borrowers/B-HOLD", headers=COLLECTOR)).json()["holds"] == []

    # The borrower's one story: every loan's timeline, in time order, each entry its loan's.
    story = await api.get("/v1/borrowers/B-HOLD/timeline", headers=SUPERVISOR)
    assert story.status_code == 200, story.text
    entries = story.json()["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    held = {(e["loan_id"], e["summary"].split()[0]) for e in entries if e["kind"] == "hold"}
    assert {loan for loan, _ in held} == set(loans), held


# ----------------------------------------------------------------------- bad input, roles


async def test_a_borrower_id_whose_time_zone_differs_from_its_loans_is_refused_naming_it(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, borrower_body("L-BOR-TZ-1", due, "B-TZ"))
    other = borrower_body("L-BOR-TZ-2", due, "B-TZ", person={"timezone": "Asia/Tokyo"})
    refused = await api.post("/v1/accounts", json=other, headers=LOAN_SYSTEM)
    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert "timezone" in message and "Asia/Tokyo" in message and "Asia/Shanghai" in message
    missing = await api.get("/v1/accounts/L-BOR-TZ-2", headers=LOAN_SYSTEM)
    assert missing.status_code == 404, "nothing was started"

    renamed = borrower_body("L-BOR-TZ-3", due, "B-TZ", person={"name": "Li Wei"})
    refused = await api.post("/v1/accounts", json=renamed, headers=LOAN_SYSTEM)
    assert refused.status_code == 422 and "name" in refused.json()["error"]["message"]


async def test_get_borrower_is_for_staff_and_an_unknown_borrower_is_404(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, borrower_body("L-BOR-ROLE-1", due, "B-ROLE"))
    assert (await api.get("/v1/borrowers/B-ROLE", headers=LOAN_SYSTEM)).status_code == 403
    view = await api.get("/v1/borrowers/B-ROLE", headers=SUPERVISOR)
    assert view.status_code == 200
    assert view.json()["contacts_today"] == 0
    assert (await api.get("/v1/borrowers/B-NOBODY", headers=SUPERVISOR)).status_code == 404


async def test_a_hold_reaches_the_open_loans_when_another_loan_of_the_borrower_has_closed(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """A paid-off loan's episode has ended: passing the hold to it fails, and the borrower's
    authority goes on (the open loan is held, contacts are still granted and refused)."""
    loans = ["L-BOR-CLOSED-1", "L-BOR-CLOSED-2"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-CLOSED"))
    await sleep_until(workflow_env, due + timedelta(days=1), hour=12)
    await pay(api, loans[0], "PAY-CLOSED-1", "1200.60", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    closed = workflow_env.client.get_workflow_handle(f"account-{loans[0]}")
    assert (await closed.describe()).status == WorkflowExecutionStatus.COMPLETED

    reported = await api.post(
        f"/v1/accounts/{loans[1]}/attorney",
        json={"name": "Zhang San", "phone": "+8613900000999"},
        headers=COLLECTOR,
    )
    assert reported.status_code == 202, reported.text
    await workflow_env.sleep(timedelta(minutes=5))
    view = (await api.get("/v1/borrowers/B-CLOSED", headers=SUPERVISOR)).json()
    assert [h["kind"] for h in view["holds"]] == ["attorney"]
    handle = workflow_env.client.get_workflow_handle("borrower-B-CLOSED")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    failed = [
        e
        for e in history.events
        if e.HasField("signal_external_workflow_execution_failed_event_attributes")
    ]
    assert len(failed) == 1, "the hold was passed to the closed loan, and that failed"


async def test_the_borrowers_authority_continues_as_new_and_keeps_its_ledger_and_holds(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its history is bounded: it continues as new carrying the rolling window of contacts and
    the holds, so what it grants after the boundary still counts what came before."""
    monkeypatch.setattr(borrower_contract, "HISTORY_LIMIT", 20)
    loans = [f"L-BOR-CAN-{i}" for i in range(4)]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-CAN"))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)

    handle = workflow_env.client.get_workflow_handle("borrower-B-CAN")
    started = (await handle.fetch_history()).events[0]
    previous = started.workflow_execution_started_event_attributes.continued_execution_run_id
    assert previous, "the authority continued as new"
    view = (await api.get("/v1/borrowers/B-CAN", headers=SUPERVISOR)).json()
    # The four loans' DPD 2 calls are one call task for the person (consolidation): its
    # pending call, granted before the boundary, still counts after it.
    assert view["contacts_left"] == {"cn.connected_calls_per_day": 2}
    assert sorted(view_loan["loan_id"] for view_loan in view["loans"]) == loans


async def test_reassigning_one_loan_gives_the_borrower_one_holder_across_their_loans(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loans = ["L-BOR-HOLDER-1", "L-BOR-HOLDER-2"]
    due = await business_today(workflow_env) + timedelta(days=2)
    for loan in loans:
        await start(api, borrower_body(loan, due, "B-HOLDER"))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    answer = await api.post(
        f"/v1/accounts/{loans[0]}/reassign",
        json={"to": "bob", "reason": "workload balancing"},
        headers=SUPERVISOR,
    )
    assert answer.status_code == 202, answer.text
    await workflow_env.sleep(timedelta(minutes=5))
    for loan in loans:
        assert (await status(api, loan))["holder"] == "bob", loan
    [passed_on] = [a for a in await actions(api, loans[1]) if a["kind"] == "reassignment"]
    assert passed_on["detail"]["by"].startswith("borrower B-HOLDER")
    view = (await api.get("/v1/borrowers/B-HOLDER", headers=SUPERVISOR)).json()
    assert {loan["holder"] for loan in view["loans"]} == {"bob"}


async def test_a_loan_that_joins_a_held_borrower_is_held_and_takes_the_borrowers_holder(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, borrower_body("L-BOR-LATE-1", due, "B-LATE"))
    await sleep_until(workflow_env, due - timedelta(days=1), hour=12)
    ceased = await api.post(
        "/v1/accounts/L-BOR-LATE-1/cease-communication", json={}, headers=COLLECTOR
    )
    assert ceased.status_code == 202, ceased.text
    moved = await api.post(
        "/v1/accounts/L-BOR-LATE-1/reassign",
        json={"to": "bob", "reason": "one collector for the family"},
        headers=SUPERVISOR,
    )
    assert moved.status_code == 202, moved.text
    await workflow_env.sleep(timedelta(minutes=5))

    await start(api, borrower_body("L-BOR-LATE-2", due + timedelta(days=1), "B-LATE"))
    since = await workflow_env.get_current_time()
    await sleep_until(workflow_env, due + timedelta(days=6), hour=12)
    late = await status(api, "L-BOR-LATE-2")
    assert [h["kind"] for h in late["holds"]] == ["cease_communication"]
    assert late["holder"] == "bob"
    contacts = [
        a
        for a in await actions(api, "L-BOR-LATE-2")
        if a["kind"] in CONTACT_KINDS and instant_of(a) > since
    ]
    assert contacts == []
