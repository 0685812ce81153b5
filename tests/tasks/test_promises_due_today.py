"""PLAYBOOK.md section 7: a promise falling due today is the strongest reason to call, so the
task of an account whose open promise (a real `promises` row) is due today on the borrower's own
calendar comes first in the queue, whatever the money says. Judged when the queue is read, so a
task created days earlier jumps the queue on the promise's day. Runs on SQLite, and on
PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx

from activities.moment import MomentActivities
from store import tasks as queue
from store.engine import session_scope
from store.models import PromiseRow
from tests.conftest import COLLECTOR
from tests.tasks.conftest import NOW, add_task
from workflows.contracts import AccountStatus, ActionCommand, MomentRecord, StrategyRef, task_id_for

SHANGHAI, LOS_ANGELES = "Asia/Shanghai", "America/Los_Angeles"
# NOW is 2026-12-10 11:00 in Shanghai and 2026-12-09 19:00 in Los Angeles.
SHANGHAI_TODAY, LOS_ANGELES_TODAY = date(2026, 12, 10), date(2026, 12, 9)


def add_promise(database_url: str, loan_id: str, due: date, status: str = "open") -> None:
    with session_scope(database_url) as session:
        session.add(
            PromiseRow(
                promise_id=f"{loan_id}-{due.isoformat()}-{status}",
                loan_id=loan_id,
                amount=Decimal("500.00"),
                promised_date=due,
                pay_to="ICBC",
                status=status,
                made_at=NOW - timedelta(days=3),
            )
        )


def add_call(database_url: str, name: str, priority: str, tz: str | None = SHANGHAI) -> None:
    detail: dict[str, object] = {"stage": "front_end", "dpd": 12}
    if tz is not None:
        detail["timezone"] = tz
    add_task(database_url, name, loan_id=f"L-{name}", priority=Decimal(priority), detail=detail)


def listed(database_url: str) -> list[str]:
    with session_scope(database_url) as session:
        rows = queue.open_tasks(session, NOW, today=SHANGHAI_TODAY)
        return [row.task_id for row in rows]


def test_an_account_whose_open_promise_falls_due_today_is_called_first(
    database_url: str,
) -> None:
    add_call(database_url, "big-debt", "9000")
    add_call(database_url, "promise-today", "100")
    add_promise(database_url, "L-promise-today", SHANGHAI_TODAY)
    add_call(database_url, "promise-tomorrow", "200")
    add_promise(database_url, "L-promise-tomorrow", SHANGHAI_TODAY + timedelta(days=1))
    add_call(database_url, "promise-kept", "300")  # due today, but no longer open
    add_promise(database_url, "L-promise-kept", SHANGHAI_TODAY, status="kept")

    assert listed(database_url) == ["promise-today", "big-debt", "promise-kept", "promise-tomorrow"]


def test_today_is_the_borrowers_own_calendar_day(database_url: str) -> None:
    # In Los Angeles it is still 9 December: a promise for the 10th is tomorrow's, one for the
    # 9th is today's, although the queue's home zone (Shanghai) is already on the 10th.
    add_call(database_url, "big-debt", "9000")
    add_call(database_url, "la-promise-on-the-10th", "100", tz=LOS_ANGELES)
    add_promise(database_url, "L-la-promise-on-the-10th", SHANGHAI_TODAY)
    add_call(database_url, "la-promise-on-the-9th", "50", tz=LOS_ANGELES)
    add_promise(database_url, "L-la-promise-on-the-9th", LOS_ANGELES_TODAY)
    add_call(database_url, "old-task-no-zone", "20", tz=None)  # judged on the queue's day
    add_promise(database_url, "L-old-task-no-zone", SHANGHAI_TODAY)

    assert listed(database_url) == [
        "la-promise-on-the-9th",
        "old-task-no-zone",
        "big-debt",
        "la-promise-on-the-10th",
    ]


def test_claim_next_hands_out_the_account_whose_promise_is_due_today_first(
    database_url: str,
) -> None:
    add_call(database_url, "big-debt", "9000")
    add_call(database_url, "promise-today", "100")
    add_promise(database_url, "L-promise-today", SHANGHAI_TODAY)

    with session_scope(database_url) as session:
        first = queue.claim_next(session, "alice", NOW, today=SHANGHAI_TODAY)
    with session_scope(database_url) as session:
        second = queue.claim_next(session, "alice", NOW, today=SHANGHAI_TODAY)

    assert first is not None and second is not None
    assert (first.task_id, second.task_id) == ("promise-today", "big-debt")


async def test_get_tasks_lists_the_account_whose_promise_is_due_today_above_a_bigger_debt(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_call(database_url, "big-debt", "9000")
    add_call(database_url, "promise-today", "100")
    add_promise(database_url, "L-promise-today", SHANGHAI_TODAY)

    response = await queue_api.get("/v1/tasks", headers=COLLECTOR)

    assert response.status_code == 200, response.text
    assert [t["task_id"] for t in response.json()] == ["promise-today", "big-debt"]


def test_a_task_recorded_by_the_workflow_carries_the_borrowers_zone_for_its_promise_day(
    database_url: str,
) -> None:
    loan = "L-LA-BORROWER"
    call = ActionCommand(
        seq=3,
        at=NOW - timedelta(hours=1),
        kind="call_task",
        channel="call",
        stage="front_end",
        detail={"dpd": 12, "amount_overdue": "50.00"},
        task_window=(NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
        priority=Decimal("50.00"),
    )
    moment = MomentRecord(
        loan_id=loan,
        workflow_id=f"account-{loan}",
        episode="episode-la",
        at=NOW - timedelta(hours=1),
        status=AccountStatus(
            loan_id=loan,
            state="delinquent",
            dpd=12,
            bucket="M1",
            stage="front_end",
            amount_overdue=Decimal("50.00"),
            penalty_accrued=Decimal("0"),
            strategy=StrategyRef(name="default", version=1),
        ),
        segment="standard",
        actions=[call],
        borrower={"name": "Jane Roe", "locale": "en", "timezone": LOS_ANGELES},
    )
    MomentActivities(database_url).apply_moment(moment)
    add_promise(database_url, loan, LOS_ANGELES_TODAY)
    add_call(database_url, "big-debt", "9000")

    [first, second] = listed(database_url)

    assert (first, second) == (task_id_for(loan, "episode-la", 3), "big-debt")
