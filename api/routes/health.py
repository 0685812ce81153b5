"""Health: `/health` and `/health/ready` (is the API able to do its job right now: Temporal and
the store reachable) and `/health/live` (the process answers). Readiness also reports any active
region without a public-holiday calendar for the next 60 days; that is a warning for operators,
not a reason to take the API out of service."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.services.policy import policy_registry
from api.state import business_now, temporal_client
from domain.contact.coverage import calendar_gaps
from store.engine import as_utc, get_engine, session_scope
from store.events import delivery_lag

router = APIRouter()


def _database_ok(url: str) -> bool:
    try:
        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _temporal_ok(request: Request) -> bool:
    try:
        client = await asyncio.wait_for(temporal_client(request), timeout=3)
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        return True
    except Exception:
        return False


async def _today(request: Request, temporal_ok: bool) -> date:
    """The business date the calendar coverage is judged from: the API's clock (the virtual one
    under ARREARS_CLOCK=server), or the system's while that clock cannot be read."""
    if temporal_ok:
        with contextlib.suppress(Exception):
            return (await business_now(request)).date()
    return datetime.now(UTC).date()


def _events_lag(url: str) -> dict[str, object] | None:
    """Events the loan system has not accepted yet (a warning: the API serves regardless)."""
    try:
        with session_scope(url) as session:
            lag = delivery_lag(session)
    except Exception:
        return None
    oldest = as_utc(lag.oldest_undelivered_at)
    return {
        "undelivered": lag.undelivered,
        "oldest_undelivered_at": oldest.isoformat() if oldest else None,
    }


def _calendar_gaps(request: Request, today: date) -> list[str]:
    """From the policy registry the starts use, parsed again only when a file changed: a probe
    every few seconds must not re-read every calendar file."""
    try:
        registry = policy_registry(request.app.state.settings)
    except Exception as error:
        return [f"unreadable: {error}"]
    calendars = registry.calendars(r for r in registry.references() if r.kind == "calendar")
    return calendar_gaps(calendars, today)


@router.get(
    "/health/live",
    summary="Liveness: the API process answers",
    description="Open to everyone. Always 200 while the process serves requests.",
)
async def live() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/health/ready",
    summary="Readiness: Temporal and the store answer",
    description="Open to everyone. 200 when Temporal and the database answer, else 503 naming "
    "what is down. `calendars_missing` lists active regions without a public-holiday calendar "
    "for the next 60 days (a warning; readiness does not depend on it); `events` how many events "
    "the loan system has not accepted yet and since when (a warning too).",
    responses={503: {"description": "Temporal or the database is down"}},
)
async def ready(request: Request) -> JSONResponse:
    return await health(request)


@router.get(
    "/health",
    summary="Readiness of the API and what it depends on",
    description="Open to everyone. 200 when Temporal and the database answer, else 503 naming "
    "what is down (the same answer as /health/ready).",
    responses={503: {"description": "Temporal or the database is down"}},
)
async def health(request: Request) -> JSONResponse:
    database_ok, temporal_ok = await asyncio.gather(
        asyncio.to_thread(_database_ok, request.app.state.settings.effective_database_url),
        _temporal_ok(request),
    )
    body: dict[str, object] = {
        "status": "ok" if database_ok and temporal_ok else "degraded",
        "temporal": "ok" if temporal_ok else "down",
        "database": "ok" if database_ok else "down",
    }
    gaps = await asyncio.to_thread(_calendar_gaps, request, await _today(request, temporal_ok))
    if gaps:
        body["calendars_missing"] = gaps
    if database_ok:
        lag = await asyncio.to_thread(
            _events_lag, request.app.state.settings.effective_database_url
        )
        if lag is not None:
            body["events"] = lag
    if database_ok and temporal_ok:
        return JSONResponse(body)
    down = [name for name, ok in (("temporal", temporal_ok), ("database", database_ok)) if not ok]
    body["error"] = {
        "code": "service_unavailable",
        "message": f"Down: {', '.join(down)}.",
        "details": down,
    }
    return JSONResponse(body, status_code=503)
