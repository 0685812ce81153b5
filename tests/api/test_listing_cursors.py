"""Cursor pagination on the tasks, actions and messages listings (issue 15, CONTRACT.md v1.1):
an addition, not a change. The body stays the list it always was; when more follows, the next
page's cursor comes in `X-Next-Cursor` (and a `Link: rel="next"`), and walking the pages gives
exactly the unpaged list, in its order, each item once, ties at one instant included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from store.channels import InboundMessageRow, OutboundContactRow
from store.models import ActionRow, TaskRow
from tests.conftest import SUPERVISOR
from tests.seed import account_row, seed

AT = datetime(2026, 12, 5, 2, tzinfo=UTC)
NUMBER = "+8613800138000"


async def _walk(api: httpx.AsyncClient, path: str, limit: int) -> tuple[list[Any], int]:
    """Every page of a listing, followed by its cursors: (the items, how many pages)."""
    items: list[Any] = []
    params: dict[str, Any] = {"limit": limit}
    pages = 0
    while True:
        response = await api.get(path, params=params, headers=SUPERVISOR)
        assert response.status_code == 200, response.text
        page = response.json()
        assert isinstance(page, list) and len(page) <= limit
        items += page
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response.headers
            return items, pages
        assert 'rel="next"' in response.headers["Link"] and cursor in response.headers["Link"]
        params = {"limit": limit, "cursor": cursor}


def _action(loan_id: str, seq: int, at: datetime) -> ActionRow:
    return ActionRow(
        loan_id=loan_id,
        episode="episode-1",
        seq=seq,
        at=at,
        kind="sms_reminder",
        channel="sms",
        stage="front_end",
        status="sent",
        detail={"template": "overdue_reminder"},
    )


async def test_walking_the_actions_pages_gives_every_action_once_in_order(
    api: httpx.AsyncClient, database_url: str
) -> None:
    # Seven actions, three of them at one instant (a moment that did several things).
    instants = [AT, AT + timedelta(hours=1), AT + timedelta(hours=1), AT + timedelta(hours=1)]
    instants += [AT + timedelta(days=d) for d in (1, 2, 3)]
    seed(
        database_url,
        account_row("PG-1"),
        *[_action("PG-1", seq, at) for seq, at in enumerate(instants, start=1)],
    )
    everything = await api.get("/v1/accounts/PG-1/actions", headers=SUPERVISOR)
    assert everything.status_code == 200 and "X-Next-Cursor" not in everything.headers
    assert [a["seq"] for a in everything.json()] == list(range(1, 8))  # unpaged, as before

    walked, pages = await _walk(api, "/v1/accounts/PG-1/actions", limit=3)

    assert walked == everything.json() and pages == 3


def _inbound(loan_id: str, n: int, at: datetime) -> InboundMessageRow:
    return InboundMessageRow(
        provider_sid=f"SM-IN-{loan_id}-{n}",
        from_number=NUMBER,
        to_number="+15005550006",
        body=f"reply {n}",
        kind="reply",
        loan_id=loan_id,
        received_at=at,
    )


def _outbound(loan_id: str, n: int, at: datetime) -> OutboundContactRow:
    return OutboundContactRow(
        loan_id=loan_id,
        workflow_id=f"account-{loan_id}",
        episode="e1",
        action_seq=n,
        channel="sms",
        kind="sms_reminder",
        locale="zh-CN",
        to_number=NUMBER,
        from_number="+15005550006",
        body=f"sent {n}",
        state="accepted",
        requested_at=at,
    )


async def test_walking_the_messages_pages_gives_every_message_once_newest_first(
    api: httpx.AsyncClient, database_url: str
) -> None:
    same = AT + timedelta(hours=5)  # two replies and two texts at one instant
    rows: list[Any] = [account_row("PG-2")]
    rows += [_inbound("PG-2", n, at) for n, at in enumerate([AT, same, same, same + timedelta(1)])]
    rows += [_outbound("PG-2", n, at) for n, at in enumerate([same, same, AT, AT - timedelta(1)])]
    seed(database_url, *rows)
    everything = await api.get("/v1/accounts/PG-2/messages", headers=SUPERVISOR)
    assert everything.status_code == 200 and "X-Next-Cursor" not in everything.headers
    assert len(everything.json()) == 8

    walked, pages = await _walk(api, "/v1/accounts/PG-2/messages", limit=3)

    assert walked == everything.json() and pages == 3
    # At one instant the replies come before what we sent.
    at_same = [m["direction"] for m in walked if m["at"].startswith("2026-12-05T07:00")]
    assert at_same == ["inbound", "inbound", "outbound", "outbound"]


def _task(n: int, priority: str) -> TaskRow:
    return TaskRow(
        task_id=f"PG-T{n}",
        loan_id="PG-3",
        episode="episode-1",
        action_seq=n,
        kind="call",
        priority=Decimal(priority),
        detail={"stage": "front_end"},
    )


async def test_walking_the_task_queue_pages_gives_every_task_once_best_first(
    api: httpx.AsyncClient, database_url: str
) -> None:
    priorities = ["100", "900", "500", "500", "300"]
    seed(database_url, account_row("PG-3"), *[_task(n, p) for n, p in enumerate(priorities)])
    everything = await api.get("/v1/tasks", headers=SUPERVISOR)
    assert everything.status_code == 200 and "X-Next-Cursor" not in everything.headers
    ids = [t["task_id"] for t in everything.json()]
    assert ids == ["PG-T1", "PG-T2", "PG-T3", "PG-T4", "PG-T0"]

    walked, pages = await _walk(api, "/v1/tasks", limit=2)

    assert [t["task_id"] for t in walked] == ids and pages == 3


async def test_a_cursor_this_api_did_not_write_or_of_another_listing_is_refused(
    api: httpx.AsyncClient, database_url: str
) -> None:
    seed(database_url, account_row("PG-4"), *[_action("PG-4", n, AT) for n in (1, 2)])
    first = await api.get("/v1/accounts/PG-4/actions?limit=1", headers=SUPERVISOR)
    actions_cursor = first.headers["X-Next-Cursor"]
    for path, cursor in (
        ("/v1/accounts/PG-4/actions", "not-a-cursor"),
        ("/v1/accounts/PG-4/messages", actions_cursor),
        ("/v1/tasks", actions_cursor),
    ):
        response = await api.get(path, params={"cursor": cursor}, headers=SUPERVISOR)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_input"
        assert "cursor" in response.json()["error"]["message"]
    following = await api.get(
        "/v1/accounts/PG-4/actions", params={"cursor": actions_cursor}, headers=SUPERVISOR
    )
    assert [a["seq"] for a in following.json()] == [2]
