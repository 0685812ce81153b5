"""The virtual clock on the desk (issue 20): under ARREARS_CLOCK=server every page shows the
virtual instant and a supervisor moves it from any page, through the JSON API's own model and
stepping service; a collector sees the date but cannot move it; on the system clock there is
neither banner nor form (404, like POST /v1/sandbox/clock/advance)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from tests.desk.conftest import csrf_of, make_user, signed_in

VIRTUAL = "Virtual time"


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"carol": "supervisor", "alice": "collector"}


@pytest.fixture
def desk_app(settings: Settings, workflow_env: WorkflowEnvironment, worker: Worker) -> FastAPI:
    """The desk of an API whose business clock is the time-skipping server's (no clock handed
    in: the app reads the server's, as `arrears up --virtual-time` does)."""
    virtual = settings.model_copy(update={"clock": "server"})
    return create_app(virtual, client=workflow_env.client)


@pytest.fixture
def virtual_desk(desk: httpx.AsyncClient) -> httpx.AsyncClient:
    return desk


async def _sign_in(desk: httpx.AsyncClient, name: str) -> str:
    """Sign in and answer the queue page's HTML."""
    await signed_in(desk, name)
    queue = await desk.get("/desk/queue")
    assert queue.status_code == 200, queue.text
    return queue.text


def _shown_instant(html: str) -> datetime:
    start = html.index('<time datetime="') + len('<time datetime="')
    return datetime.fromisoformat(html[start : html.index('"', start)])


async def test_a_supervisor_moves_the_virtual_clock_from_any_page_and_every_page_shows_it(
    virtual_desk: httpx.AsyncClient, workflow_env: WorkflowEnvironment
) -> None:
    queue = await _sign_in(virtual_desk, "carol")
    assert VIRTUAL in queue and 'action="/desk/clock/advance"' in queue
    before = _shown_instant(queue)
    moved = await virtual_desk.post(
        "/desk/clock/advance",
        data={"csrf": csrf_of(queue), "days": "2", "hours": "3", "next": "/desk/search"},
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/desk/search"
    now = await workflow_env.get_current_time()
    assert now - before >= timedelta(days=2, hours=3)
    search = await virtual_desk.get("/desk/search")
    assert VIRTUAL in search.text and _shown_instant(search.text) >= before + timedelta(days=2)


async def test_an_advance_the_api_would_refuse_is_refused_on_the_page_and_the_clock_stays(
    virtual_desk: httpx.AsyncClient, workflow_env: WorkflowEnvironment
) -> None:
    queue = await _sign_in(virtual_desk, "carol")
    before = await workflow_env.get_current_time()
    for fields in ({}, {"days": "-1"}, {"days": "400"}, {"days": "two"}):
        refused = await virtual_desk.post(
            "/desk/clock/advance", data={"csrf": csrf_of(queue), "next": "/desk/queue", **fields}
        )
        assert refused.status_code == 303, fields
        shown = await virtual_desk.get(refused.headers["location"])
        assert 'role="alert"' in shown.text, fields
    assert await workflow_env.get_current_time() - before < timedelta(hours=1)


async def test_a_collector_sees_the_virtual_date_but_cannot_move_it(
    virtual_desk: httpx.AsyncClient,
) -> None:
    queue = await _sign_in(virtual_desk, "alice")
    assert VIRTUAL in queue and "/desk/clock/advance" not in queue
    refused = await virtual_desk.post(
        "/desk/clock/advance", data={"csrf": csrf_of(queue), "days": "1"}
    )
    assert refused.status_code == 403


async def test_an_advance_without_the_forms_csrf_token_is_refused(
    virtual_desk: httpx.AsyncClient,
) -> None:
    await _sign_in(virtual_desk, "carol")
    refused = await virtual_desk.post("/desk/clock/advance", data={"days": "1"})
    assert refused.status_code == 403


async def test_on_the_system_clock_there_is_no_banner_and_no_way_to_move_time(
    settings: Settings, database_url: str
) -> None:
    make_user(database_url, "carol", "supervisor")
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as desk:
        queue = await _sign_in(desk, "carol")
        assert VIRTUAL not in queue and "/desk/clock/advance" not in queue
        moved = await desk.post("/desk/clock/advance", data={"csrf": csrf_of(queue), "days": "1"})
        assert moved.status_code == 404
