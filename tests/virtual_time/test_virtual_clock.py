"""Virtual time as a lender runs it (issue 20): `arrears api` and `arrears worker` processes on the
time-skipping test server with ARREARS_CLOCK=server; a supervisor moves the clock with
`POST /v1/sandbox/clock/advance` and every status, task list and window is read at the new
virtual instant."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import select

from domain.calendar import local_date
from store.channels import OutboundContactRow
from store.engine import as_utc, session_scope
from tests.virtual_time.conftest import VirtualStack
from tests.workflows.helpers import TZ, account_json

LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}
COLLECTOR = {"Authorization": "Bearer demo-collector"}
SUPERVISOR = {"Authorization": "Bearer demo-supervisor"}


def now(stack: VirtualStack) -> datetime:
    answer = httpx.get(f"{stack.api}/v1/sandbox/clock", headers=SUPERVISOR, timeout=10)
    assert answer.status_code == 200, answer.text
    return datetime.fromisoformat(answer.json()["now"])


def advance(stack: VirtualStack, **body: Any) -> dict[str, Any]:
    began = time.monotonic()
    answer = httpx.post(
        f"{stack.api}/v1/sandbox/clock/advance", json=body, headers=SUPERVISOR, timeout=120
    )
    assert answer.status_code == 200, answer.text + stack.log_tail()
    assert time.monotonic() - began < 30, "an advance of days must take seconds"
    return answer.json()


def start_account(stack: VirtualStack, loan: str) -> date:
    """An account falling due tomorrow on the borrower's calendar; returns the due date."""
    today = local_date(now(stack), TZ)
    due = today + timedelta(days=1)
    created = httpx.post(
        f"{stack.api}/v1/accounts", json=account_json(loan, due), headers=LOAN_SYSTEM, timeout=30
    )
    assert created.status_code == 201, created.text
    return due


def outbound(stack: VirtualStack, loan: str) -> list[OutboundContactRow]:
    with session_scope(stack.env["DATABASE_URL"]) as session:
        rows = session.exec(
            select(OutboundContactRow).where(OutboundContactRow.loan_id == loan)
        ).all()
        return list(rows)


def status(stack: VirtualStack, loan: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.api}/v1/accounts/{loan}", headers=LOAN_SYSTEM, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_advancing_forty_days_shows_dpd_forty_without_any_other_message(
    virtual_stack: VirtualStack,
) -> None:
    due = start_account(virtual_stack, "L-VT-40")
    assert status(virtual_stack, "L-VT-40")["state"] == "pre_due"
    advance(virtual_stack, days=41)
    seen = status(virtual_stack, "L-VT-40")
    assert (seen["state"], seen["dpd"], seen["bucket"]) == ("delinquent", 40, "M2")
    assert datetime.fromisoformat(seen["as_of"]) >= local_instant(due + timedelta(days=40), 8)
    # Each SMS's delivery callback was taken in at its own moment, not a step later: between
    # steps the clock waits for the sandbox gateway to play every message out.
    sent = outbound(virtual_stack, "L-VT-40")
    assert len(sent) >= 2
    for row in sent:
        assert row.provider_status == "delivered", row
        sent_at, status_at = as_utc(row.requested_at), as_utc(row.status_at)
        assert sent_at is not None and status_at is not None
        took = status_at - sent_at
        assert timedelta(0) <= took < timedelta(minutes=1), (row.kind, took)


def tasks(
    stack: VirtualStack, loan: str, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.api}/v1/tasks", params=params, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return [t for t in answer.json() if t["loan_id"] == loan]


def local_instant(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, dtime(hour, minute), ZoneInfo(TZ)).astimezone(UTC)


def test_a_call_task_is_listed_and_worked_inside_its_window_and_expires_at_its_end(
    virtual_stack: VirtualStack,
) -> None:
    loan = "L-VT-CALLS"
    due = start_account(virtual_stack, loan)
    # DPD 2, 08:00 in the borrower's zone: the day's call (slot 10:00-11:30) is not workable yet.
    advance(virtual_stack, until=local_instant(due + timedelta(days=2), 8).isoformat())
    assert tasks(virtual_stack, loan, COLLECTOR) == []

    # Inside its window it is listed, and a collector claims it and records the call then.
    inside = local_instant(due + timedelta(days=2), 10, 30)
    assert advance(virtual_stack, until=inside.isoformat())["now"] >= inside.isoformat()
    [call] = tasks(virtual_stack, loan, COLLECTOR)
    opens, closes = (datetime.fromisoformat(call[k]) for k in ("not_before", "not_after"))
    assert opens <= now(virtual_stack) < closes
    assert opens == local_instant(due + timedelta(days=2), 10)
    claimed = httpx.post(
        f"{virtual_stack.api}/v1/tasks/{call['task_id']}/claim", headers=COLLECTOR, timeout=30
    )
    assert claimed.status_code == 200, claimed.text
    outcome = httpx.post(
        f"{virtual_stack.api}/v1/tasks/{call['task_id']}/outcome",
        json={"outcome": "no_answer"},
        headers=COLLECTOR,
        timeout=30,
    )
    assert outcome.status_code == 200, outcome.text
    worked = outcome.json()
    assert worked["status"] == "done"
    assert inside <= datetime.fromisoformat(worked["outcome_at"]) < inside + timedelta(minutes=1)

    # The next call nobody works is closed by its workflow at its window's end, not later.
    advance(virtual_stack, days=4)
    [expired, *_] = tasks(virtual_stack, loan, SUPERVISOR, status="expired")
    ended = datetime.fromisoformat(expired["not_after"])
    closed = datetime.fromisoformat(expired["closed_at"])
    assert ended <= closed < ended + timedelta(seconds=1)
    assert tasks(virtual_stack, loan, COLLECTOR) == []  # nothing stale left in the queue


def test_only_a_supervisor_reads_or_moves_the_clock(virtual_stack: VirtualStack) -> None:
    for path, method in (("/v1/sandbox/clock", "GET"), ("/v1/sandbox/clock/advance", "POST")):
        for who in (COLLECTOR, LOAN_SYSTEM):
            answer = httpx.request(
                method, virtual_stack.api + path, json={"days": 1}, headers=who, timeout=10
            )
            assert answer.status_code == 403, answer.text


def test_an_advance_that_is_missing_negative_in_the_past_or_too_far_is_refused(
    virtual_stack: VirtualStack,
) -> None:
    before = now(virtual_stack)
    for body, says in (
        ({}, "how far"),
        ({"days": 0, "hours": 0}, "only moves forward"),
        ({"days": -1}, "greater than or equal to 0"),
        ({"hours": -3}, "greater than or equal to 0"),
        ({"until": (before - timedelta(hours=1)).isoformat()}, "only moves forward"),
        ({"until": "2031-05-01T00:00:00"}, "timezone"),
        ({"days": 367}, "less than or equal to 366"),
        ({"until": (before + timedelta(days=367)).isoformat()}, "366 days"),
        ({"days": 1, "until": (before + timedelta(days=1)).isoformat()}, "either"),
        ({"weeks": 1}, "extra"),
    ):
        answer = httpx.post(
            f"{virtual_stack.api}/v1/sandbox/clock/advance",
            json=body,
            headers=SUPERVISOR,
            timeout=10,
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "invalid_input"
        assert says in answer.text.lower() or says in answer.text, (body, answer.text)
    assert now(virtual_stack) - before < timedelta(minutes=1)  # nothing moved the clock


def test_a_second_advance_while_one_is_moving_the_clock_is_told_to_wait(
    virtual_stack: VirtualStack,
) -> None:
    start_account(virtual_stack, "L-VT-BUSY")  # something to settle, so an advance takes time
    url = f"{virtual_stack.api}/v1/sandbox/clock/advance"
    answers: list[httpx.Response] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(httpx.post, url, json={"days": 20}, headers=SUPERVISOR, timeout=120)
        deadline = time.monotonic() + 30
        while not first.done() and time.monotonic() < deadline:
            answers.append(httpx.post(url, json={"hours": 1}, headers=SUPERVISOR, timeout=120))
        answers.append(first.result())
    # Whichever took the clock first, every other one met it moving and was told so.
    codes = [answer.status_code for answer in answers]
    assert 409 in codes and set(codes) <= {200, 409}, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "advance_in_progress"
