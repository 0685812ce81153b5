"""Reports from store rows the tests write themselves: no Temporal needed (the reports read the
store only), so the API is built without a connected client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import DEMO_API_KEYS, Settings
from store.engine import session_scope
from store.models import TransitionRow
from store.reports import record_assignment


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def add_transitions(url: str, loan_id: str, *steps: tuple[str, str, str]) -> None:
    """One account's transitions, each (day, to_state, to_bucket), in the order given."""
    with session_scope(url) as session:
        state: str | None = "pre_due"
        bucket: str | None = "current"
        for seq, (day, to_state, to_bucket) in enumerate(steps, start=1):
            session.add(
                TransitionRow(
                    loan_id=loan_id,
                    episode=f"ep-{loan_id}",
                    seq=seq,
                    at=at(day),
                    from_state=state,
                    to_state=to_state,
                    from_bucket=bucket,
                    to_bucket=to_bucket,
                    dpd={"current": 0, "M1": 5, "M2": 35, "M3": 65, "M4+": 95}[to_bucket],
                    reason="test",
                )
            )
            state, bucket = to_state, to_bucket


def assign(url: str, loan_id: str, arm: str, experiment: str = "default@1:front_light@1") -> None:
    ref = "default@1" if arm == "champion" else "front_light@1"
    record_assignment(
        url, loan_id=loan_id, experiment=experiment, arm=arm, strategy_ref=ref, at=at("2026-11-01")
    )


@pytest.fixture
async def reports_api(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        DATABASE_URL=database_url, ARREARS_API_KEYS=DEMO_API_KEYS, ARREARS_DATA_DIR=tmp_path
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as client:
        yield client
