"""Helpers for the agency and legal tests: agencies and placements written through the store
functions, a fixed business instant, settings without the sandbox gateway (nothing here sends
SMS), and an API client whose clock is that instant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import DEMO_API_KEYS, Settings
from store import agencies as registry
from store.engine import session_scope

AT = datetime(2027, 2, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, DPD 60 of a December loan
EPISODE = "episode-0001"


def add_agency(url: str, name: str, capacity: int = 10, rate: str = "0.18") -> registry.AgencyRow:
    with session_scope(url) as session:
        return registry.add_agency(session, name, Decimal(rate), capacity, AT)


def place(
    url: str, loan_id: str, seq: int = 1, at: datetime = AT, episode: str = EPISODE, days: int = 90
) -> registry.PlacementRow | None:
    with session_scope(url) as session:
        return registry.place(
            session,
            loan_id=loan_id,
            workflow_id=f"account-{loan_id}",
            episode=episode,
            action_seq=seq,
            at=at,
            amount=Decimal("3600.00"),
            currency="CNY",
            period_days=days,
        )


def active_counts(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return registry.active_placement_counts(session)


@pytest.fixture
def store_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=database_url, ARREARS_API_KEYS=DEMO_API_KEYS, ARREARS_DATA_DIR=tmp_path
    )


async def _fixed_clock() -> datetime:
    return AT


@pytest.fixture
async def registry_api(store_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API at business time AT; these endpoints read and write the store only."""
    app = create_app(store_settings, clock=_fixed_clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as client:
        yield client
