"""`GET /v1/cases` (issue 17 item 7): the supervisors' queue by deadline, page by page with the
cursor the answer names, filtered by status and kind; a cursor it did not write is refused.
Reads the store only (no Temporal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from store.cases import CaseRow
from tests.conftest import AUDITOR, SUPERVISOR
from tests.seed import seed

NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


async def _clock() -> datetime:
    return NOW


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=_clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as client:
        yield client


def _case(n: int, kind: str = "dispute", status: str = "open") -> CaseRow:
    deadline = NOW + timedelta(hours=n - 3)
    return CaseRow(
        case_id=f"L-{n:03d}-abcd1234-C1",
        loan_id=f"L-{n:03d}",
        episode="episode-1",
        kind=kind,
        reason="disputes the fee",
        opened_at=deadline - timedelta(days=30),
        deadline=deadline,
        status=status,
    )


async def test_the_case_queue_pages_by_deadline_and_filters_by_status_and_kind(
    api: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, *[_case(n) for n in range(60)])
    seed(database_url, _case(70, "complaint"), _case(71, status="rejected"))
    first = await api.get("/v1/cases", params={"status": "open"}, headers=SUPERVISOR)
    assert first.status_code == 200, first.text
    assert len(first.json()) == 50
    deadlines = [c["deadline"] for c in first.json()]
    assert deadlines == sorted(deadlines)
    # still open at its deadline is overdue (the workflow escalates it at that instant)
    assert [c["overdue"] for c in first.json()[:5]] == [True, True, True, True, False]
    cursor = first.headers["X-Next-Cursor"]
    second = await api.get(
        "/v1/cases", params={"status": "open", "cursor": cursor}, headers=AUDITOR
    )
    assert second.status_code == 200 and "X-Next-Cursor" not in second.headers
    ids = [c["case_id"] for c in first.json() + second.json()]
    assert len(ids) == len(set(ids)) == 61  # 60 disputes and the complaint, once each

    complaints = await api.get("/v1/cases", params={"kind": "complaint"}, headers=SUPERVISOR)
    assert [c["loan_id"] for c in complaints.json()] == ["L-070"]
    rejected = await api.get("/v1/cases", params={"status": "rejected"}, headers=SUPERVISOR)
    assert [c["loan_id"] for c in rejected.json()] == ["L-071"]
    mine = await api.get("/v1/cases", params={"loan_id": "L-005"}, headers=SUPERVISOR)
    assert [c["case_id"] for c in mine.json()] == ["L-005-abcd1234-C1"]

    forged = await api.get("/v1/cases", params={"cursor": "bm90LW91cnM"}, headers=SUPERVISOR)
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_input"
    unknown = await api.get("/v1/cases/L-NONE-C1", headers=SUPERVISOR)
    assert unknown.status_code == 404
