"""The disputes and complaints pages over HTTP (issue 15; issue 17 item 7): an open case past
its deadline is marked overdue with how long, times in the borrower's zone, in Chinese for a
supervisor who chose it, and the pages are closed to collectors."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from store.cases import CaseRow
from tests.desk.conftest import NOW, signed_in
from tests.seed import seed


def _case(case_id: str, kind: str, deadline: datetime, **fields: object) -> CaseRow:
    values: dict[str, object] = {
        "case_id": case_id,
        "loan_id": f"L-{case_id}",
        "episode": "episode-1",
        "kind": kind,
        "reason": f"{kind} about the fee",
        "opened_at": deadline - timedelta(days=30),
        "deadline": deadline,
        "timezone": "Asia/Shanghai",
        **fields,
    }
    return CaseRow(**values)  # type: ignore[arg-type]


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"carol": "supervisor", "alice": "collector"}


async def test_an_open_case_past_its_deadline_is_marked_overdue_first_in_local_time(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(
        database_url,
        _case("LATE", "dispute", NOW - timedelta(days=2, hours=1)),
        _case("SOON", "complaint", NOW + timedelta(hours=5)),
        _case("DONE", "dispute", NOW - timedelta(days=9), status="rejected"),
    )
    await signed_in(desk, "carol")
    page = await desk.get("/desk/cases")
    assert page.status_code == 200, page.text
    rows = page.text.split('id="cases"')[1].split("</table>")[0]
    assert rows.index('data-case="LATE"') < rows.index('data-case="SOON"')  # by deadline
    late = rows.split('data-case="LATE"')[1].split("</tr>")[0]
    assert "<strong>Overdue</strong> · overdue by 2 d 1 h" in late
    assert "2026-12-08 10:00 (Asia/Shanghai)" in late  # 02:00 UTC shown in the borrower's zone
    soon = rows.split('data-case="SOON"')[1].split("</tr>")[0]
    assert "answer within 5 h 00 min" in soon and "Overdue" not in soon
    assert "DONE" not in rows  # resolved cases leave the queue
    assert "Past their deadline: 1</strong>" in page.text

    complaints = await desk.get("/desk/cases?kind=complaint")
    assert 'data-case="SOON"' in complaints.text and 'data-case="LATE"' not in complaints.text

    chinese = await desk.get("/desk/cases/LATE", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 200
    assert "已超期" in chinese.text and "争议" in chinese.text


async def test_a_collector_may_not_open_the_case_pages(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, _case("C1", "dispute", NOW + timedelta(days=3)))
    await signed_in(desk, "alice")
    assert (await desk.get("/desk/cases")).status_code == 403
    assert (await desk.get("/desk/cases/C1")).status_code == 403
