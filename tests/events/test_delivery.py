"""The webhook delivery (activities/event_delivery.py) against the sandbox gateway's receiver,
over real HTTP: every event arrives once, signed, in order per loan; a receiver that refuses
one loan's event delays that loan only and gets everything once it accepts again; a redelivery
after a lost acknowledgement is recognised by the event id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from activities.event_delivery import EventDelivery, backoff, signature_of, verify_signature
from core.serving import serve_in_background
from core.settings import Settings
from domain.vocabulary import EventType
from sandbox.app import GatewayConfig, create_gateway_app
from store.engine import session_scope
from store.events import EventFact, EventRow, delivery_lag, record_events

SECRET = "test-webhook-secret"
AT = datetime(2026, 3, 21, 4, 0, tzinfo=UTC)


class Clock:
    """The delivery process's own clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 21, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    config = GatewayConfig.from_settings(Settings(ARREARS_WEBHOOK_SECRET=SECRET))
    async with serve_in_background(create_gateway_app(config)) as url:
        yield url


def _record(database_url: str, loan: str, count: int) -> None:
    with session_scope(database_url) as session:
        record_events(
            session,
            [
                EventFact(
                    key=f"{loan}:{i}",
                    at=AT + timedelta(minutes=i),
                    loan_id=loan,
                    type=EventType.PAYMENT_APPLIED,
                    data={"n": i},
                )
                for i in range(count)
            ],
        )


def _rows(database_url: str, loan: str) -> list[EventRow]:
    with session_scope(database_url) as session:
        rows = session.exec(select(EventRow).where(EventRow.loan_id == loan)).all()
        for row in rows:
            session.expunge(row)
        return sorted(rows, key=lambda row: row.id or 0)


async def _received(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await http.get(f"{url}/v1/sandbox/events")).json()
    return answer


async def _drain(delivery: EventDelivery, clock: Clock, passes: int = 40) -> None:
    for _ in range(passes):
        await delivery.deliver_once()
        clock.now += timedelta(seconds=1)


async def test_every_event_arrives_once_signed_and_in_order_per_loan(
    database_url: str, receiver: str
) -> None:
    _record(database_url, "L-A", 3)
    _record(database_url, "L-B", 2)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        delivery = EventDelivery(
            database_url, f"{receiver}/v1/sandbox/events", SECRET, http, now=clock
        )
        await _drain(delivery, clock, 5)
        got = await _received(http, receiver)
    items = got["items"]
    assert isinstance(items, list)
    for loan, count in (("L-A", 3), ("L-B", 2)):
        assert [e["data"]["n"] for e in items if e["loan_id"] == loan] == list(range(count))
    with session_scope(database_url) as session:
        assert delivery_lag(session).undelivered == 0


async def test_a_receiver_refusing_one_loan_delays_that_loan_only_and_then_gets_it_all(
    database_url: str, receiver: str
) -> None:
    _record(database_url, "L-SLOW", 2)
    _record(database_url, "L-FAST", 2)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{receiver}/v1/sandbox/events/refuse", json={"loan_id": "L-SLOW", "times": 3}
        )
        delivery = EventDelivery(
            database_url, f"{receiver}/v1/sandbox/events", SECRET, http, now=clock
        )
        for _ in range(3):  # no time passes: the slow loan's retry is not due again yet
            await delivery.deliver_once()
        got = await _received(http, receiver)
        assert [e["loan_id"] for e in got["items"]] == ["L-FAST", "L-FAST"]
        first, second = _rows(database_url, "L-SLOW")
        assert first.attempts == 1 and first.last_error and "503" in first.last_error
        assert second.attempts == 0  # never sent ahead of the first: order per loan
        await _drain(delivery, clock, 20)  # the backoff runs out; the receiver accepts again
        got = await _received(http, receiver)
    slow_events = [e["data"]["n"] for e in got["items"] if e["loan_id"] == "L-SLOW"]
    assert slow_events == [0, 1]
    assert got["refused"] == 3


async def test_a_redelivery_after_a_lost_acknowledgement_is_received_once(
    database_url: str, receiver: str
) -> None:
    _record(database_url, "L-R", 1)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        delivery = EventDelivery(
            database_url, f"{receiver}/v1/sandbox/events", SECRET, http, now=clock
        )
        await delivery.deliver_once()
        with session_scope(database_url) as session:  # the 200 was lost: we never marked it
            for row in session.exec(select(EventRow)).all():
                row.delivered_at = None
                session.add(row)
        await delivery.deliver_once()
        got = await _received(http, receiver)
    assert len(got["items"]) == 1 and got["redelivered"] == 1


async def test_a_delivery_signed_with_another_secret_is_refused_and_retried(
    database_url: str, receiver: str
) -> None:
    _record(database_url, "L-X", 1)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        wrong = EventDelivery(
            database_url, f"{receiver}/v1/sandbox/events", "wrong", http, now=clock
        )
        await wrong.deliver_once()
        assert (await _received(http, receiver))["items"] == []
    with session_scope(database_url) as session:
        assert delivery_lag(session).undelivered == 1


def test_the_signature_is_the_hmac_of_the_exact_body_and_the_backoff_is_capped() -> None:
    body = b'{"id":1}'
    header = signature_of(SECRET, body)
    assert header.startswith("sha256=") and verify_signature(SECRET, body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature(SECRET, body, None)
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [1, 2, 4]
    assert backoff(30) == timedelta(minutes=5)
