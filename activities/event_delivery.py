"""The delivery of events to the loan system's webhook (CONTRACT.md v1.1,
`ARREARS_LOAN_SYSTEM_WEBHOOK_URL`): every event POSTed, in order per loan, retried with backoff
until a 2xx, signed with HMAC-SHA256 of the body (`X-Arrears-Signature: sha256=<hex>`).

Per loan, only the oldest undelivered event is ever in flight: a later event of the same loan
waits until the earlier one is accepted, so the receiver sees each loan's story in order. Loans
are independent: a receiver that keeps refusing one loan's event delays that loan only, and the
backoff (1, 2, 4 ... s, at most five minutes) keeps a dead receiver from being hammered.

One delivery process per store (`arrears deliver-events`; `arrears up` runs it): it alone
writes the delivery columns. The retry schedule is delivery bookkeeping on the process's own
clock, not a business decision, so it does not come from the workflow's clock. A second process
started by mistake could post an event twice, which the receiver must tolerate anyway (the
event id is its idempotency key, `X-Arrears-Event-Id`), but never out of order for a loan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from store.engine import as_utc, session_scope
from store.events import EventRow

__all__ = [
    "DeliveryRound",
    "EventDelivery",
    "heartbeat_is_fresh",
    "signature_of",
    "verify_signature",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Arrears-Signature"
EVENT_ID_HEADER = "X-Arrears-Event-Id"
MAX_BACKOFF = timedelta(minutes=5)
HEARTBEAT_FILE = "events.heartbeat"
"""Touched in the data directory after every pass that reached the store: the delivery process
has no port, so its container's health check reads this file's age (docker-compose.yml)."""
HEARTBEAT_STALE = timedelta(minutes=1)


def signature_of(secret: str, body: bytes) -> str:
    """The header's value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does (docs/events.md shows the same few lines): compare in constant time."""
    return header is not None and hmac.compare_digest(signature_of(secret, body), header)


def body_of(row: EventRow) -> bytes:
    """The event as `GET /v1/events` shows it, as compact JSON bytes (what is signed)."""
    event = {
        "id": row.id,
        "at": (as_utc(row.at) or row.at).isoformat() if row.at else None,
        "loan_id": row.loan_id,
        "type": row.type,
        "data": row.data,
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 1, 2, 4 ... seconds, at most five minutes."""
    return min(timedelta(seconds=2 ** max(0, attempts - 1)), MAX_BACKOFF)


@dataclass(frozen=True)
class DeliveryRound:
    delivered: int
    failed: int


class EventDelivery:
    """One pass delivers the head event of every loan that is due; `run` repeats passes."""

    def __init__(
        self,
        database_url: str,
        webhook_url: str,
        secret: str,
        http: httpx.AsyncClient,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch: int = 200,
        concurrency: int = 16,
    ) -> None:
        self._url, self._webhook, self._secret, self._http = database_url, webhook_url, secret, http
        self._now, self._batch = now, batch
        self._gate = asyncio.Semaphore(concurrency)

    def _due_heads(self) -> list[EventRow]:
        """The oldest undelivered event of each loan, if its retry time has come."""
        now = self._now()
        with session_scope(self._url) as session:
            heads = (
                select(func.min(EventRow.id))
                .where(col(EventRow.delivered_at).is_(None))
                .group_by(col(EventRow.loan_id))
            )
            rows = session.exec(
                select(EventRow)
                .where(col(EventRow.id).in_(heads))
                .where(
                    col(EventRow.next_attempt_at).is_(None) | (col(EventRow.next_attempt_at) <= now)
                )
                .order_by(col(EventRow.id))
                .limit(self._batch)
            ).all()
            for row in rows:
                session.expunge(row)
            return list(rows)

    async def _post(self, row: EventRow) -> str | None:
        """None when the receiver accepted it (2xx), else why not."""
        body = body_of(row)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_of(self._secret, body),
            EVENT_ID_HEADER: str(row.id),
        }
        async with self._gate:
            try:
                response = await self._http.post(self._webhook, content=body, headers=headers)
            except httpx.HTTPError as error:
                return f"{type(error).__name__}: {error}"[:400]
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _mark(self, row: EventRow, error: str | None) -> None:
        now = self._now()
        with session_scope(self._url) as session:
            stored = session.get(EventRow, row.id)
            if stored is None or stored.delivered_at is not None:
                return
            stored.attempts += 1
            if error is None:
                stored.delivered_at, stored.next_attempt_at, stored.last_error = now, None, None
            else:
                stored.next_attempt_at = now + backoff(stored.attempts)
                stored.last_error = error
            session.add(stored)

    async def deliver_once(self) -> DeliveryRound:
        heads = await asyncio.to_thread(self._due_heads)
        errors = await asyncio.gather(*(self._post(row) for row in heads))
        for row, error in zip(heads, errors, strict=True):
            await asyncio.to_thread(self._mark, row, error)
            if error is not None:
                log.warning("event %s for %s not delivered: %s", row.id, row.loan_id, error)
        failed = sum(1 for e in errors if e is not None)
        return DeliveryRound(delivered=len(heads) - failed, failed=failed)

    async def run(
        self, stop: asyncio.Event, idle: float = 0.5, heartbeat: Path | None = None
    ) -> None:
        """Deliver until `stop` is set; sleep `idle` seconds after a pass that had nothing due.
        After each pass that reached the store, `heartbeat` (if given) is touched: a process that
        is stuck or has lost its store stops touching it, and its health check fails."""
        while not stop.is_set():
            try:
                delivered = await self.deliver_once()
            except Exception:  # the store away for a moment: try again after a pause
                log.exception("event delivery pass failed")
                delivered = DeliveryRound(0, 0)
            else:
                if heartbeat is not None:
                    _touch(heartbeat)
            if delivered.delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)


def _touch(heartbeat: Path) -> None:
    try:
        heartbeat.touch()
    except OSError as error:  # delivery goes on; the health check will say it cannot tell
        log.warning("cannot touch the delivery heartbeat %s: %s", heartbeat, error)


def heartbeat_is_fresh(heartbeat: Path, now: datetime | None = None) -> bool:
    """Whether the delivery process reached its store within the last minute (its health)."""
    try:
        touched = datetime.fromtimestamp(heartbeat.stat().st_mtime, UTC)
    except FileNotFoundError:
        return False
    return (now or datetime.now(UTC)) - touched < HEARTBEAT_STALE
