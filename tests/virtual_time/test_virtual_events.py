"""Events under virtual time (issue 20 with issue 16): `arrears deliver-events` delivers the event
log to the sandbox gateway's receiver while a supervisor moves the clock; after an advance the
receiver holds the account's events in the log's order, each once, even when it refused the
first deliveries (the retry backoff runs on the machine's clock, so a jump of the business clock
neither skips it nor stalls it)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from tests.virtual_time.conftest import VirtualStack
from tests.virtual_time.test_virtual_clock import (
    LOAN_SYSTEM,
    advance,
    now,
    start_account,
    status,
)


def feed(stack: VirtualStack, loan: str) -> list[dict[str, Any]]:
    """The account's events in the log (GET /v1/events, the loan system's read), in order."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = httpx.get(
            f"{stack.api}/v1/events",
            params={"after": after, "limit": 500},
            headers=LOAN_SYSTEM,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()["items"]
        items += [e for e in page if e["loan_id"] == loan]
        if len(page) < 500:
            return items
        after = page[-1]["id"]


def received(stack: VirtualStack, loan: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.sandbox}/v1/sandbox/events", params={"loan_id": loan}, timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def delivered(stack: VirtualStack, loan: str, logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the receiver holds for the account once it has everything the log has (60 s)."""
    deadline = time.monotonic() + 60
    while True:
        items: list[dict[str, Any]] = received(stack, loan)["items"]
        if len(items) >= len(logged) or time.monotonic() > deadline:
            return items
        time.sleep(0.5)


def test_after_an_advance_the_receiver_holds_the_accounts_events_in_order_and_none_twice(
    virtual_stack: VirtualStack,
) -> None:
    loan = "L-VT-EVENTS"
    refuse = httpx.post(
        f"{virtual_stack.sandbox}/v1/sandbox/events/refuse",
        json={"loan_id": loan, "times": 2},
        timeout=10,
    )
    assert refuse.status_code == 200, refuse.text
    start_account(virtual_stack, loan)
    # 36 days: delinquent at DPD 1, M1 → M2 at DPD 31 (bucket.changed), then a payment.
    advance(virtual_stack, days=36)
    overdue = status(virtual_stack, loan)["amount_overdue"]
    paid = httpx.post(
        f"{virtual_stack.api}/v1/accounts/{loan}/payments",
        json={
            "payment_id": "PAY-VT-1",
            "amount": overdue,
            "paid_at": now(virtual_stack).isoformat(),
        },
        headers=LOAN_SYSTEM,
        timeout=30,
    )
    assert paid.status_code == 202, paid.text
    advance(virtual_stack, hours=1)
    assert status(virtual_stack, loan)["state"] == "cured"

    logged = feed(virtual_stack, loan)
    types = [e["type"] for e in logged]
    for wanted in ("account.opened", "account.delinquent", "bucket.changed", "payment.applied"):
        assert wanted in types, types
    assert types.index("account.opened") < types.index("account.delinquent")
    assert types.index("bucket.changed") < types.index("payment.applied")

    items = delivered(virtual_stack, loan, logged)
    assert [e["id"] for e in items] == [e["id"] for e in logged], virtual_stack.log_tail()
    assert [e["type"] for e in items] == types
    assert [i for i, n in Counter(e["id"] for e in items).items() if n > 1] == []
    # The two refusals were retried (on the machine's clock) and nothing came twice.
    answer = received(virtual_stack, loan)
    assert answer["refused"] == 2
    assert answer["redelivered"] == 0
