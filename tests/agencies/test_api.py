"""The registry and account endpoints (api/routes/agencies.py): who may read and write, the
contract's error answers (409 duplicate, 422 bad input, 404 unknown account), and what a
placement and a legal case look like with its status history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from store import legal
from store.engine import session_scope
from tests.agencies.conftest import AT, EPISODE, add_agency, place
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.seed import account_row, seed

HUATAI: dict[str, Any] = {"name": "Huatai Recovery", "commission_rate": "0.18", "capacity": 500}


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_only_supervisors_and_auditors_see_the_registry(
    registry_api: httpx.AsyncClient,
) -> None:
    assert (await registry_api.get("/v1/agencies")).status_code == 401
    assert (await registry_api.get("/v1/agencies", headers=COLLECTOR)).status_code == 403
    assert (await registry_api.get("/v1/agencies", headers=LOAN_SYSTEM)).status_code == 403
    for who in (SUPERVISOR, AUDITOR):
        response = await registry_api.get("/v1/agencies", headers=who)
        assert (response.status_code, response.json()) == (200, [])


async def test_only_a_supervisor_registers_an_agency(registry_api: httpx.AsyncClient) -> None:
    for who in (COLLECTOR, AUDITOR, LOAN_SYSTEM):
        response = await registry_api.post("/v1/agencies", json=HUATAI, headers=who)
        assert (response.status_code, error_code(response)) == (403, "forbidden")
    created = await registry_api.post("/v1/agencies", json=HUATAI, headers=SUPERVISOR)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        **body,
        "name": "Huatai Recovery",
        "commission_rate": "0.18",
        "capacity": 500,
        "active": True,
        "active_placements": 0,
    }
    assert body["agency_id"].startswith("AG-")
    assert body["created_at"].startswith(AT.isoformat()[:19])  # the API's business clock


async def test_the_registry_lists_each_agency_with_its_active_placements(
    registry_api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Beijing Credit")
    add_agency(database_url, "Anhui Collect")
    place(database_url, "L-1", seq=1)
    response = await registry_api.get("/v1/agencies", headers=AUDITOR)
    assert [(a["name"], a["active_placements"]) for a in response.json()] == [
        ("Anhui Collect", 1),
        ("Beijing Credit", 0),
    ]


async def test_a_duplicate_agency_name_is_409(registry_api: httpx.AsyncClient) -> None:
    assert (await registry_api.post("/v1/agencies", json=HUATAI, headers=SUPERVISOR)).is_success
    again = await registry_api.post(
        "/v1/agencies", json={**HUATAI, "name": " Huatai  Recovery "}, headers=SUPERVISOR
    )
    assert (again.status_code, error_code(again)) == (409, "duplicate_agency")
    assert "already registered" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    "change",
    [
        {"commission_rate": "0"},
        {"commission_rate": "1"},
        {"commission_rate": "1.5"},
        {"commission_rate": "-0.1"},
        {"commission_rate": "abc"},
        {"capacity": 0},
        {"capacity": -5},
        {"name": "   "},
        {"extra": "field"},
    ],
)
async def test_a_commission_outside_0_to_1_or_a_capacity_below_1_is_422(
    registry_api: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    response = await registry_api.post(
        "/v1/agencies", json={**HUATAI, **change}, headers=SUPERVISOR
    )
    assert (response.status_code, error_code(response)) == (422, "invalid_input"), response.text
    listed = await registry_api.get("/v1/agencies", headers=SUPERVISOR)
    assert listed.json() == []


async def test_an_accounts_placements_are_readable_by_everyone_but_the_loan_system(
    registry_api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Anhui Collect", rate="0.2")
    place(database_url, "L-1", seq=5)
    path = "/v1/accounts/L-1/placements"
    assert (await registry_api.get(path, headers=LOAN_SYSTEM)).status_code == 403
    for who in (COLLECTOR, SUPERVISOR, AUDITOR):
        response = await registry_api.get(path, headers=who)
        assert response.status_code == 200
    (placement,) = response.json()
    assert placement == {
        **placement,
        "loan_id": "L-1",
        "agency": "Anhui Collect",
        "commission_rate": "0.20000",
        "amount_placed": "3600.0000",
        "status": "active",
        "action_seq": 5,
        "recalled_at": None,
    }
    assert placement["period_end"].startswith((AT + timedelta(days=90)).isoformat()[:19])


async def test_an_accounts_legal_cases_come_with_their_status_history(
    registry_api: httpx.AsyncClient, database_url: str
) -> None:
    with session_scope(database_url) as session:
        case = legal.open_case(
            session,
            loan_id="L-1",
            workflow_id="account-L-1",
            episode=EPISODE,
            action_seq=9,
            at=AT,
            amount_claimed=Decimal("3672.40"),
            currency="CNY",
        )
        legal.advance_case(session, case.case_id, "filed", AT + timedelta(days=3), "filed")
    path = "/v1/accounts/L-1/legal-cases"
    assert (await registry_api.get(path, headers=LOAN_SYSTEM)).status_code == 403
    for who in (COLLECTOR, SUPERVISOR, AUDITOR):
        response = await registry_api.get(path, headers=who)
        assert response.status_code == 200
    (body,) = response.json()
    assert (body["case_id"], body["status"], body["amount_claimed"]) == (
        case.case_id,
        "filed",
        "3672.4000",
    )
    assert [(e["status"], e["note"]) for e in body["history"]] == [
        ("preparing", "case opened"),
        ("filed", "filed"),
    ]


async def test_an_unknown_account_is_404_and_a_known_one_without_records_an_empty_list(
    registry_api: httpx.AsyncClient, database_url: str
) -> None:
    for path in ("/v1/accounts/L-nobody/placements", "/v1/accounts/L-nobody/legal-cases"):
        response = await registry_api.get(path, headers=COLLECTOR)
        assert (response.status_code, error_code(response)) == (404, "not_found")
    seed(database_url, account_row("L-known", episode=EPISODE))
    for path in ("/v1/accounts/L-known/placements", "/v1/accounts/L-known/legal-cases"):
        response = await registry_api.get(path, headers=COLLECTOR)
        assert (response.status_code, response.json()) == (200, [])
