"""GET /health: is the API able to do its job right now (Temporal and the store reachable)?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import temporal_client
from store.engine import get_engine

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


@router.get(
    "/health",
    summary="Liveness of the API and what it depends on",
    description="Open to everyone. 200 when Temporal and the database answer, else 503 naming "
    "what is down.",
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
    if database_ok and temporal_ok:
        return JSONResponse(body)
    down = [name for name, ok in (("temporal", temporal_ok), ("database", database_ok)) if not ok]
    body["error"] = {
        "code": "service_unavailable",
        "message": f"Down: {', '.join(down)}.",
        "details": down,
    }
    return JSONResponse(body, status_code=503)
