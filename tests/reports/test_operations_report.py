"""`GET /v1/reports/operations` (issue 15): the supervisor's operating figures for a period of
local days — promise-kept rate, right-party-contact rate, contacts by local hour and channel,
each person's outcomes and the agency league table — counted from the store's records, with
what falls outside the period left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx

from store.agencies import AgencyRow, PlacementRow
from store.models import ActionRow, PaymentRow, PromiseRow, TaskRow
from tests.conftest import COLLECTOR, SUPERVISOR
from tests.seed import account_row, seed

# 2026-12-03 10:30 in Shanghai is 02:30 UTC; the period is December 2026 in Shanghai.
IN = datetime(2026, 12, 3, 2, 30, tzinfo=UTC)
BEFORE = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 on 30 November in Shanghai
PERIOD = {"from": "2026-12-01", "to": "2026-12-31", "tz": "Asia/Shanghai"}


def _promise(n: int, status: str, made_at: datetime) -> PromiseRow:
    return PromiseRow(
        promise_id=f"OP-P{n}",
        loan_id="OP-1",
        amount=Decimal("100"),
        promised_date=date(2026, 12, 10),
        status=status,
        made_at=made_at,
    )


def _done(n: int, outcome: str, by: str, kind: str = "call") -> TaskRow:
    return TaskRow(
        task_id=f"OP-T{n}",
        loan_id="OP-1",
        episode="e1",
        action_seq=n,
        kind=kind,
        status="done",
        priority=Decimal("1"),
        detail={},
        outcome={"outcome": outcome},
        outcome_by=by,
        outcome_at=IN,
    )


def _sms(n: int, kind: str = "sms_reminder") -> ActionRow:
    return ActionRow(
        loan_id="OP-1",
        episode="e1",
        seq=100 + n,
        at=IN + timedelta(hours=1),
        kind=kind,
        channel="sms",
        stage="front_end",
        status="sent",
        detail={},
    )


def _placement(n: int, agency: str, amount: str) -> PlacementRow:
    return PlacementRow(
        placement_id=f"OP-PL{n}",
        placement_no=n,
        loan_id="OP-1",
        workflow_id="account-OP-1",
        episode="e1",
        action_seq=200 + n,
        agency_id=agency,
        commission_rate=Decimal("0.2"),
        amount_placed=Decimal(amount),
        placed_at=IN,
        period_end=IN + timedelta(days=90),
    )


async def test_the_operations_report_counts_the_periods_records(
    api: httpx.AsyncClient, database_url: str
) -> None:
    agencies = [
        AgencyRow(
            agency_id=a, name=name, commission_rate=Decimal("0.2"), capacity=10, created_at=IN
        )
        for a, name in (("A-1", "First Agency"), ("A-2", "Second Agency"))
    ]
    seed(database_url, account_row("OP-1"), *agencies)
    seed(
        database_url,
        _promise(1, "kept", IN),
        _promise(2, "kept", IN),
        _promise(3, "broken", IN),
        _promise(4, "open", IN),
        _promise(5, "broken", BEFORE),  # made before the period: not counted
        _done(1, "promise_to_pay", "alice"),
        _done(2, "no_answer", "alice"),
        _done(3, "refused", "bob"),
        _done(4, "visited_not_met", "bob", kind="field_visit"),
        _sms(1),
        _sms(2),
        _sms(3, kind="contact_blocked"),  # refused by the gate: not a contact
        _placement(1, "A-1", "1000"),
        _placement(2, "A-2", "1000"),
        PaymentRow(
            loan_id="OP-1",
            payment_id="PAY-1",
            amount=Decimal("500"),
            paid_at=IN,
            agency_id="A-2",
            placement_id="OP-PL2",
        ),
    )

    response = await api.get("/v1/reports/operations", params=PERIOD, headers=SUPERVISOR)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2026-12-01"
    assert body["promises"] == {"made": 4, "kept": 2, "broken": 1, "open": 1, "kept_rate": 0.6667}
    assert body["contacts"] == {"worked": 4, "right_party": 2, "rate": 0.5}
    assert body["by_hour"] == {"10": {"call": 3, "field_visit": 1}, "11": {"sms": 2}}
    assert body["productivity"] == [
        {"person": "alice", "worked": 2, "right_party": 1, "promises": 1},
        {"person": "bob", "worked": 2, "right_party": 1, "promises": 0},
    ]
    assert [(a["name"], a["rate"]) for a in body["agencies"]] == [
        ("Second Agency", 0.5),
        ("First Agency", 0.0),
    ]


async def test_the_operations_report_is_for_supervisors_and_auditors_over_a_valid_period(
    api: httpx.AsyncClient,
) -> None:
    refused = await api.get("/v1/reports/operations", params=PERIOD, headers=COLLECTOR)
    assert refused.status_code == 403
    backwards = {**PERIOD, "from": "2027-01-31"}
    bad = await api.get("/v1/reports/operations", params=backwards, headers=SUPERVISOR)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_period"
