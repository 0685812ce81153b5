"""Who an account may be handed to, and who sees borrowers' numbers (issue 21 item 8): an
escalation goes to the team lead only, reassignment stays with supervisors, every name is a known
member of staff; `/actions` masks phone numbers as `/messages` does for callers who may not read
the account's messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from store.models import ActionRow
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR, auth
from tests.seed import account_row, seed

BOB = auth("demo-collector-2")  # bob, a collector; alice is COLLECTOR; carol the team lead


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


async def test_an_escalation_goes_to_the_team_lead_only_never_a_peer_or_an_unknown_name(
    api: httpx.AsyncClient,
) -> None:
    path = "/v1/accounts/ST-1/escalate"
    for to in ("bob", "nobody", "dave", "alice"):
        response = await api.post(path, json={"reason": "x", "to": to}, headers=COLLECTOR)
        refused(response, 422, "not_team_lead")
        assert "carol" in response.json()["error"]["message"]
    # The team lead, named or not, passes the check (the account itself is unknown here).
    for body in ({"reason": "x", "to": "carol"}, {"reason": "x"}):
        refused(await api.post(path, json=body, headers=COLLECTOR), 404, "not_found")
    # Handing the account to anyone else stays a supervisor's reassignment.
    refused(
        await api.post(
            "/v1/accounts/ST-1/reassign", json={"to": "bob", "reason": "x"}, headers=COLLECTOR
        ),
        403,
        "forbidden",
    )


async def test_a_reassignment_or_a_task_goes_only_to_a_known_member_of_staff(
    api: httpx.AsyncClient,
) -> None:
    for name in ("nobody", "loan-system", "Bob"):
        response = await api.post(
            "/v1/accounts/ST-1/reassign", json={"to": name, "reason": "x"}, headers=SUPERVISOR
        )
        refused(response, 422, "unknown_staff")
        response = await api.post(
            "/v1/tasks/T-ST/assign", json={"assignee": name}, headers=SUPERVISOR
        )
        refused(response, 422, "unknown_staff")
    ok = await api.post(
        "/v1/accounts/ST-1/reassign", json={"to": "bob", "reason": "x"}, headers=SUPERVISOR
    )
    refused(ok, 404, "not_found")  # a known name passes; the account is unknown here


NUMBER, OTHER, ATTORNEY = "+8613800138000", "+8613900139000", "+12025550143"


def _seed(url: str, loan_id: str, holder: str | None) -> None:
    detail = {
        "to": NUMBER,
        "reason": f"no answer on {OTHER}, next number",
        "contacts": [{"attorney_phone": ATTORNEY}],
        "template": "overdue_reminder",
        "due": "2026-12-01",
    }
    sent: dict[str, Any] = {"kind": "sms_reminder", "channel": "sms", "stage": "front_end"}
    episode = f"run-{loan_id}"
    at = datetime(2026, 12, 5, 2, tzinfo=UTC)
    action = ActionRow(
        loan_id=loan_id, episode=episode, seq=1, at=at, detail=detail, status="sent", **sent
    )
    seed(url, account_row(loan_id, episode=episode, assignee=holder, status={}), action)


async def test_actions_mask_phone_numbers_for_callers_who_may_not_read_the_messages(
    api: httpx.AsyncClient, database_url: str
) -> None:
    _seed(database_url, "ST-2", holder="bob")
    masked = {
        "to": "+*********8000",
        "reason": "no answer on +*********9000, next number",
        "contacts": [{"attorney_phone": "+*******0143"}],
        "template": "overdue_reminder",
        "due": "2026-12-01",
    }
    for headers, may_read in (
        (LOAN_SYSTEM, False),
        (COLLECTOR, False),  # alice: bob holds the account
        (BOB, True),
        (SUPERVISOR, True),
        (AUDITOR, True),
    ):
        actions = await api.get("/v1/accounts/ST-2/actions", headers=headers)
        assert actions.status_code == 200, actions.text
        detail = actions.json()[0]["detail"]
        assert (detail["to"] == NUMBER) is may_read, detail
        if not may_read:
            assert detail == masked
        messages = await api.get("/v1/accounts/ST-2/messages", headers=headers)
        assert (messages.status_code == 200) is may_read, messages.text  # the same rule
    _seed(database_url, "ST-3", holder=None)  # nobody holds it: every collector may read it
    actions = await api.get("/v1/accounts/ST-3/actions", headers=COLLECTOR)
    assert actions.json()[0]["detail"]["to"] == NUMBER
