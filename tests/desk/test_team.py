"""The supervisor's team page over HTTP (issue 15): workload per person, a task given to someone
through the API's own `assign_task` (known staff only, the refusal shown with what was typed),
approvals listed with who asked, four eyes enforced on the task form, and the page closed to
everyone but supervisors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from store.engine import session_scope
from store.models import TaskRow
from tests.desk.conftest import csrf_of, make_user, signed_in
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"carol": "supervisor", "alice": "collector"}


def _task(task_id: str, loan_id: str, kind: str = "call", **fields: object) -> TaskRow:
    values: dict[str, object] = {
        "task_id": task_id,
        "loan_id": loan_id,
        "episode": "episode-1",
        "action_seq": 1,
        "kind": kind,
        "priority": Decimal("100"),
        "detail": {"stage": "front_end", "dpd": 3, "timezone": "Asia/Shanghai"},
        "created_at": datetime(2026, 12, 9, tzinfo=UTC),
        **fields,
    }
    return TaskRow(**values)  # type: ignore[arg-type]


async def test_the_team_page_shows_the_workload_and_gives_a_task_to_a_known_person(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(
        database_url,
        account_row("TM-1", assignee="alice"),
        account_row("TM-2", assignee="alice"),
        _task("TM-T1", "TM-1", assignee="alice"),
        _task("TM-T2", "TM-2"),
    )
    await signed_in(desk, "carol")
    page = await desk.get("/desk/team")
    assert page.status_code == 200, page.text
    workload = page.text.split('id="workload"')[1].split("</table>")[0]
    assert "<td>alice</td><td>1</td><td>2</td>" in workload
    assert "<td>—</td><td>1</td><td>0</td>" in workload  # TM-T2 belongs to nobody

    refused = await desk.post(
        "/desk/team/assign-task",
        data={"csrf": csrf_of(page.text), "task_id": "TM-T2", "assignee": "nobody"},
    )
    assert refused.status_code == 422
    assert "unknown_staff" in refused.text and "not a known member of staff" in refused.text
    assert '<option value="TM-T2" selected>' in refused.text  # what was chosen is kept

    done = await desk.post(
        "/desk/team/assign-task",
        data={"csrf": csrf_of(page.text), "task_id": "TM-T2", "assignee": "bob"},
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/desk/team?notice=")
    with session_scope(database_url) as session:
        row = session.get(TaskRow, "TM-T2")
        assert row is not None and row.assignee == "bob"


async def test_a_supervisor_cannot_decide_the_approval_they_requested(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    detail = {"requested_by": "carol", "subject": "write_off", "timezone": "Asia/Shanghai"}
    seed(database_url, account_row("TM-3"), _task("TM-A1", "TM-3", "approval", detail=detail))
    await signed_in(desk, "carol")
    page = await desk.get("/desk/team")
    approvals = page.text.split('id="approvals"')[1].split("</table>")[0]
    assert "TM-A1" in approvals and "yours: another supervisor decides" in approvals

    form = await desk.get("/desk/tasks/TM-A1")
    assert form.status_code == 200, form.text
    refused = await desk.post(
        "/desk/tasks/TM-A1/outcome",
        data={"csrf": csrf_of(form.text), "outcome": "approved", "notes": "fine"},
    )
    assert refused.status_code == 403
    assert "four_eyes" in refused.text and "someone other than its requester" in refused.text
    with session_scope(database_url) as session:
        row = session.get(TaskRow, "TM-A1")
        assert row is not None and row.status == "open"


async def test_the_team_page_is_a_supervisors_and_its_forms_need_the_csrf_token(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    await signed_in(desk, "alice")
    assert (await desk.get("/desk/team")).status_code == 403
    forged = await desk.post(
        "/desk/team/reassign-account", data={"csrf": "forged", "loan_id": "X", "to": "bob"}
    )
    assert forged.status_code == 403


async def test_the_team_page_lists_the_latest_escalations_to_the_team_lead(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    from store.models import ActionRow

    def moved(seq: int, kind: str, reason: str) -> ActionRow:
        detail = {"kind": kind, "from": "alice", "to": "carol", "by": "alice", "reason": reason}
        return ActionRow(
            loan_id="TM-4",
            episode="episode-1",
            seq=seq,
            at=datetime(2026, 12, 9, seq, tzinfo=UTC),
            kind="reassignment",
            channel="",
            stage="front_end",
            status="recorded",
            detail=detail,
        )

    seed(
        database_url,
        account_row("TM-4", assignee="carol"),
        moved(1, "escalation", "escalation by alice: borrower asks for a manager"),
        moved(2, "reassignment", "reassignment by carol: workload"),
    )
    await signed_in(desk, "carol")
    page = await desk.get("/desk/team")
    table = page.text.split('id="escalations"')[1].split("</table>")[0]
    assert "borrower asks for a manager" in table and "TM-4" in table
    assert "workload" not in table  # a supervisor's reassignment is not an escalation


async def test_a_legal_user_sees_the_lawsuit_filing_approvals_in_the_queue_and_nothing_else(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    """Issue 17 item 4: filing a lawsuit is approved by the legal team. The legal user's queue
    lists the filing approvals waiting for anyone; another approval or a call is not theirs."""
    make_user(database_url, "frank", "legal")
    filing = {
        "stage": "legal",
        "dpd": 150,
        "timezone": "Asia/Shanghai",
        "approves": "lawsuit_filing",
        "requested_by": "alice",
        "amount": "1290.00",
        "currency": "CNY",
    }
    seed(
        database_url,
        account_row("LG-1"),
        _task("LG-FILE", "LG-1", "approval", detail=filing),
        _task("LG-REVIEW", "LG-1", "approval", detail={"requested_by": "alice"}),
        _task("LG-CALL", "LG-1"),
    )
    await signed_in(desk, "frank")
    queue = await desk.get("/desk/queue")
    assert queue.status_code == 200, queue.text
    assert "LG-FILE" in queue.text
    assert "LG-REVIEW" not in queue.text and "LG-CALL" not in queue.text
    assert (await desk.get("/desk/tasks/LG-FILE")).status_code == 200
    assert (await desk.get("/desk/tasks/LG-REVIEW")).status_code == 403
    assert (await desk.get("/desk/tasks/LG-CALL")).status_code == 403
    await signed_in(desk, "carol")  # the supervisor sees it beside the other approvals
    team = await desk.get("/desk/team")
    assert "LG-FILE" in team.text and "LG-REVIEW" in team.text
