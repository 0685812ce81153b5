"""The task endpoints with the store real and Temporal replaced by a recording fake (or a dead
address): who may see and do what, the order of the outcome checks, what is sent to the
workflow, and how each of the workflow's refusals is answered. The real workflow is in
test_outcome_delivery.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.tasks.conftest import BOB, NOW, SUPERVISOR_2, FakeTemporal, add_task, task_row

NO_ANSWER = {"outcome": "no_answer"}


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [task["task_id"] for task in response.json()]


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# ------------------------------------------------------------------------------------ listing


async def test_only_collectors_and_supervisors_may_list_tasks(queue_api: httpx.AsyncClient) -> None:
    assert (await queue_api.get("/v1/tasks")).status_code == 401
    assert (await queue_api.get("/v1/tasks", headers=AUDITOR)).status_code == 403
    assert (await queue_api.get("/v1/tasks", headers=LOAN_SYSTEM)).status_code == 403
    assert (await queue_api.get("/v1/tasks", headers=COLLECTOR)).status_code == 200


async def test_a_collector_lists_their_own_and_unassigned_tasks_best_first(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "alices", assignee="alice", priority=Decimal("100"))
    add_task(database_url, "bobs", assignee="bob", priority=Decimal("9000"))
    add_task(
        database_url, "nobodys", priority=Decimal("600"), detail={"stage": "mid_range", "dpd": 35}
    )
    add_task(database_url, "approval", kind="approval", detail={"requested_by": "carol"})
    add_task(database_url, "tomorrow", not_before=NOW + timedelta(days=1), not_after=None)
    response = await queue_api.get("/v1/tasks", headers=COLLECTOR)
    assert ids(response) == ["nobodys", "alices"]
    first = response.json()[0]
    assert first == {
        **first,
        "loan_id": "L-nobodys",
        "kind": "call",
        "status": "open",
        "assignee": None,
        "priority": "1200.00",  # 600 overdue × mid_range risk 2
        "detail": {"stage": "mid_range", "dpd": 35},
    }
    assert first["not_before"].startswith("2026-12-10T02:00:00")
    future = await queue_api.get("/v1/tasks?include_future=true", headers=COLLECTOR)
    assert "tomorrow" in ids(future)


async def test_a_collector_may_not_list_another_collectors_tasks_a_supervisor_may(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "bobs", assignee="bob")
    add_task(database_url, "nobodys")
    add_task(database_url, "approval", kind="approval")
    refused = await queue_api.get("/v1/tasks?assignee=bob", headers=COLLECTOR)
    assert refused.status_code == 403
    assert ids(await queue_api.get("/v1/tasks?assignee=bob", headers=BOB)) == ["bobs"]
    assert ids(await queue_api.get("/v1/tasks?assignee=bob", headers=SUPERVISOR)) == ["bobs"]
    assert set(ids(await queue_api.get("/v1/tasks", headers=SUPERVISOR))) == {
        "bobs",
        "nobodys",
        "approval",
    }
    assert (await queue_api.get("/v1/tasks?kind=approval", headers=COLLECTOR)).status_code == 403


async def test_filters_by_kind_and_status(queue_api: httpx.AsyncClient, database_url: str) -> None:
    add_task(database_url, "call")
    add_task(database_url, "visit", kind="field_visit")
    add_task(database_url, "expired", status="expired")
    assert ids(await queue_api.get("/v1/tasks?kind=field_visit", headers=COLLECTOR)) == ["visit"]
    assert ids(await queue_api.get("/v1/tasks?status=expired", headers=COLLECTOR)) == ["expired"]


@pytest.mark.parametrize(
    ("query", "field", "allowed"),
    [("kind=phone_call", "kind", "'field_visit'"), ("status=closed", "status", "'expired'")],
)
async def test_unknown_kind_or_status_is_422_naming_the_field_and_the_allowed_values(
    queue_api: httpx.AsyncClient, query: str, field: str, allowed: str
) -> None:
    response = await queue_api.get(f"/v1/tasks?{query}", headers=COLLECTOR)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert f"query.{field}" in message and allowed in message, message


# ------------------------------------------------------------------------------------ claims


async def test_claim_assigns_the_task_to_the_caller_and_someone_else_then_gets_409(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "t1")
    mine = await queue_api.post("/v1/tasks/t1/claim", headers=COLLECTOR)
    assert mine.status_code == 200, mine.text
    assert mine.json()["assignee"] == "alice" and mine.json()["claimed_at"] is not None
    again = await queue_api.post("/v1/tasks/t1/claim", headers=COLLECTOR)
    assert again.status_code == 200 and again.json()["claimed_at"] == mine.json()["claimed_at"]
    theirs = await queue_api.post("/v1/tasks/t1/claim", headers=BOB)
    assert theirs.status_code == 409 and error_code(theirs) == "task_held"
    assert "alice" in theirs.json()["error"]["message"]
    boss = await queue_api.post("/v1/tasks/t1/claim", headers=SUPERVISOR)
    assert boss.status_code == 409


async def test_claiming_an_unknown_closed_or_approval_task(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "done", status="done")
    add_task(database_url, "approval", kind="approval")
    assert (await queue_api.post("/v1/tasks/nope/claim", headers=COLLECTOR)).status_code == 404
    closed = await queue_api.post("/v1/tasks/done/claim", headers=COLLECTOR)
    assert closed.status_code == 409 and error_code(closed) == "task_closed"
    assert (await queue_api.post("/v1/tasks/approval/claim", headers=COLLECTOR)).status_code == 403
    assert (await queue_api.post("/v1/tasks/approval/claim", headers=SUPERVISOR)).status_code == 200
    assert (await queue_api.post("/v1/tasks/done/claim", headers=AUDITOR)).status_code == 403


async def test_claim_next_hands_out_the_best_unassigned_task_then_404_when_none_is_left(
    queue_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "small", priority=Decimal("10"))
    add_task(database_url, "big", priority=Decimal("900"))
    add_task(database_url, "approval", kind="approval", priority=Decimal("99999"))
    first = await queue_api.post("/v1/tasks:claim-next", headers=COLLECTOR)
    second = await queue_api.post("/v1/tasks:claim-next", headers=BOB)
    assert (first.json()["task_id"], first.json()["assignee"]) == ("big", "alice")
    assert (second.json()["task_id"], second.json()["assignee"]) == ("small", "bob")
    empty = await queue_api.post("/v1/tasks:claim-next", headers=COLLECTOR)
    assert empty.status_code == 404 and error_code(empty) == "no_task"


# ------------------------------------------------------------------------------------ outcomes


async def test_an_outcome_is_sent_to_the_accounts_workflow_once_then_stored(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    add_task(database_url, "t1", loan_id="L-77", action_seq=12)
    response = await queue_api.post("/v1/tasks/t1/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "done" and body["outcome"] == NO_ANSWER
    assert body["outcome_by"] == "alice" and body["assignee"] == "alice"
    assert body["effect"] == "no_answer recorded"
    [(workflow_id, name, message, options)] = fake_temporal.updates
    assert (workflow_id, name, options["id"]) == ("account-L-77", "task_outcome", "outcome-t1")
    assert (message.task_id, message.task_kind, message.action_seq) == ("t1", "call", 12)
    assert (message.recorded_by, message.recorded_at) == ("alice", NOW)
    assert message.outcome.outcome == "no_answer"
    stored = task_row(database_url, "t1")
    assert stored is not None and stored.status == "done" and stored.outcome == NO_ANSWER


async def test_posting_the_same_outcome_again_is_200_and_a_different_one_is_409(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    add_task(database_url, "t1")
    first = await queue_api.post("/v1/tasks/t1/outcome", json=NO_ANSWER, headers=COLLECTOR)
    again = await queue_api.post("/v1/tasks/t1/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert first.status_code == again.status_code == 200
    assert again.json()["outcome_at"] == first.json()["outcome_at"]
    other = await queue_api.post(
        "/v1/tasks/t1/outcome", json={"outcome": "busy"}, headers=COLLECTOR
    )
    assert other.status_code == 409 and error_code(other) == "outcome_conflict"
    assert len(fake_temporal.updates) == 1


async def test_a_collector_may_not_report_on_another_collectors_task_a_supervisor_may(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    add_task(database_url, "bobs", assignee="bob")
    refused = await queue_api.post("/v1/tasks/bobs/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert refused.status_code == 403
    assert fake_temporal.updates == []
    done = await queue_api.post("/v1/tasks/bobs/outcome", json=NO_ANSWER, headers=SUPERVISOR)
    assert done.status_code == 200, done.text
    assert done.json()["assignee"] == "bob" and done.json()["outcome_by"] == "carol"
    assert [u[2].recorded_by for u in fake_temporal.updates] == ["carol"]


async def test_checks_run_in_order_unknown_404_then_not_theirs_403_then_wrong_kind_422(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    add_task(database_url, "bobs", assignee="bob")
    visit = {"outcome": "visited_met"}
    assert (await queue_api.post("/v1/tasks/nope/outcome", json=visit)).status_code == 401
    unknown = await queue_api.post("/v1/tasks/nope/outcome", json=visit, headers=COLLECTOR)
    assert unknown.status_code == 404
    not_theirs = await queue_api.post("/v1/tasks/bobs/outcome", json=visit, headers=COLLECTOR)
    assert not_theirs.status_code == 403
    wrong_kind = await queue_api.post("/v1/tasks/bobs/outcome", json=visit, headers=BOB)
    assert wrong_kind.status_code == 422 and error_code(wrong_kind) == "invalid_outcome"
    assert "does not apply to a call task" in wrong_kind.json()["error"]["message"]
    assert fake_temporal.updates == []


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "visited_met"},  # a field visit's outcome on a call task
        {"outcome": "approved"},  # an approval's
        {"outcome": "promise_to_pay"},  # without the promise
        {"outcome": "refused", "reason": "too_rich"},  # not a refusal reason
        {"outcome": "shouted"},  # no such outcome
    ],
)
async def test_an_outcome_that_does_not_fit_is_422_and_nothing_reaches_the_workflow(
    queue_api: httpx.AsyncClient,
    database_url: str,
    fake_temporal: FakeTemporal,
    body: dict[str, Any],
) -> None:
    add_task(database_url, "t1")
    response = await queue_api.post("/v1/tasks/t1/outcome", json=body, headers=COLLECTOR)
    assert response.status_code == 422, response.text
    assert fake_temporal.updates == []
    stored = task_row(database_url, "t1")
    assert stored is not None and stored.status == "open" and stored.assignee is None


async def test_four_eyes_the_requester_of_an_approval_may_not_decide_it_another_supervisor_may(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    add_task(
        database_url,
        "approve-writeoff",
        kind="approval",
        detail={"stage": "legal", "requested_by": "carol", "subject": "write_off"},
    )
    approve = {"outcome": "approved"}
    own = await queue_api.post(
        "/v1/tasks/approve-writeoff/outcome", json=approve, headers=SUPERVISOR
    )
    assert own.status_code == 403 and error_code(own) == "four_eyes"
    collector = await queue_api.post(
        "/v1/tasks/approve-writeoff/outcome", json=approve, headers=COLLECTOR
    )
    assert collector.status_code == 403
    assert fake_temporal.updates == []
    other = await queue_api.post(
        "/v1/tasks/approve-writeoff/outcome", json=approve, headers=SUPERVISOR_2
    )
    assert other.status_code == 200, other.text
    assert other.json()["outcome_by"] == "erin" and other.json()["outcome"] == approve
    assert [u[2].recorded_by for u in fake_temporal.updates] == ["erin"]


def _failed(kind: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError(f"the workflow says {kind}", type=kind))


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (_failed("TaskClosed"), 409, "task_closed"),
        (_failed("NotAllowedInState"), 409, "not_allowed_in_state"),
        (_failed("InvalidOutcome"), 422, "invalid_outcome"),
        (_failed("InvalidPromise"), 422, "invalid_promise"),
        (RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""), 409, "workflow_closed"),
        (RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""), 503, None),
        (WorkflowUpdateRPCTimeoutOrCancelledError(), 503, None),
    ],
)
async def test_the_workflows_refusal_is_answered_and_nothing_is_recorded(
    queue_api: httpx.AsyncClient,
    database_url: str,
    fake_temporal: FakeTemporal,
    error: BaseException,
    status: int,
    code: str | None,
) -> None:
    add_task(database_url, "t1")
    fake_temporal.error = error
    response = await queue_api.post("/v1/tasks/t1/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert response.status_code == status, response.text
    if code is not None:
        assert error_code(response) == code
    if isinstance(error, WorkflowUpdateFailedError):
        assert isinstance(error.cause, ApplicationError)
        assert response.json()["error"]["message"] == error.cause.message
    stored = task_row(database_url, "t1")
    assert stored is not None
    assert (stored.status, stored.outcome, stored.assignee) == ("open", None, None)
    assert len(fake_temporal.updates) == 1


async def test_temporal_unreachable_is_503_and_nothing_is_recorded(
    unreachable_api: httpx.AsyncClient, database_url: str
) -> None:
    add_task(database_url, "t1")
    response = await unreachable_api.post("/v1/tasks/t1/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert response.status_code == 503, response.text
    assert "retry" in response.json()["error"]["message"]
    stored = task_row(database_url, "t1")
    assert stored is not None
    assert (stored.status, stored.outcome, stored.assignee) == ("open", None, None)
    # Checks that need no workflow still answer while Temporal is down: bad input is 422.
    wrong = await unreachable_api.post(
        "/v1/tasks/t1/outcome", json={"outcome": "found"}, headers=COLLECTOR
    )
    assert wrong.status_code == 422


async def test_an_outcome_before_the_tasks_window_opens_is_409_naming_when_it_may_be_worked(
    queue_api: httpx.AsyncClient, database_url: str, fake_temporal: FakeTemporal
) -> None:
    opens = NOW + timedelta(hours=5)
    add_task(database_url, "later", not_before=opens, not_after=opens + timedelta(hours=2))
    response = await queue_api.post("/v1/tasks/later/outcome", json=NO_ANSWER, headers=COLLECTOR)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "task_not_open"
    assert error["details"]["not_before"] == opens.isoformat()
    assert fake_temporal.updates == []  # nothing reached the workflow
    row = task_row(database_url, "later")
    assert row is not None and row.assignee is None and row.status == "open"
