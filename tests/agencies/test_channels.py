"""The agency and legal channels behind the `deliver` activity, driven through `Deliverer` with
the moment the workflow would record (activities/deliver.request_for builds each request), so the
action rows end up as collectors and auditors read them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import col, select

from activities.agencies import NO_CAPACITY
from activities.deliver import DELIVERED_BY, Deliverer
from activities.legal import ASSET_PRESERVATION_NOTE
from core.settings import Settings
from store import agencies as registry
from store import legal
from store.engine import session_scope
from store.models import ActionRow
from tests.agencies.conftest import AT, EPISODE, add_agency
from workflows.contracts import AccountStatus, ActionCommand, MomentRecord, StrategyRef

LOAN = "L-CH-1"
BALANCE = Decimal("3672.40")


def command(
    seq: int, kind: str, days: int = 0, template: str | None = None, **detail: Any
) -> ActionCommand:
    channel = "agency" if kind.startswith("oca") else "legal"
    return ActionCommand(
        seq=seq,
        at=AT + timedelta(days=days),
        kind=kind,
        channel=channel,
        stage="hard_core",
        template=template,
        detail={"dpd": 60 + days, "amount_overdue": "1200.00", **detail},
    )


def moment(*actions: ActionCommand) -> MomentRecord:
    status = AccountStatus(
        loan_id=LOAN,
        state="delinquent",
        dpd=60,
        bucket="M3",
        stage="mid_range",
        amount_overdue=Decimal("1200.00"),
        penalty_accrued=Decimal("36.00"),
        strategy=StrategyRef(name="default", version=1),
        balance=BALANCE,
    )
    return MomentRecord(
        loan_id=LOAN,
        workflow_id=f"account-{LOAN}",
        episode=EPISODE,
        at=actions[0].at,
        status=status,
        segment="standard",
        actions=list(actions),
        borrower={"name": "张三", "locale": "zh-CN", "timezone": "Asia/Shanghai"},
    )


def deliver(settings: Settings, *actions: ActionCommand) -> list[dict[str, Any]]:
    """Record the actions (as the moment activity does first), deliver them, return the rows."""
    record = moment(*actions)
    with session_scope(settings.effective_database_url) as session:
        for a in actions:
            if (
                session.exec(
                    select(ActionRow).where(ActionRow.episode == EPISODE, ActionRow.seq == a.seq)
                ).first()
                is None
            ):
                session.add(
                    ActionRow(
                        loan_id=LOAN,
                        episode=EPISODE,
                        seq=a.seq,
                        at=a.at,
                        kind=a.kind,
                        channel=a.channel,
                        stage=a.stage,
                        status="recorded",
                        detail=a.detail.stored(),
                    )
                )
    Deliverer(settings).deliver(settings.effective_database_url, record)
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(ActionRow).where(col(ActionRow.seq).in_([a.seq for a in actions]))
        ).all()
        by_seq = {r.seq: {"status": r.status, **r.detail} for r in rows}
    return [by_seq[a.seq] for a in actions]


def test_the_deliverer_routes_agency_and_legal_actions_to_their_channels() -> None:
    assert {k: DELIVERED_BY[k] for k in ("oca_placement", "oca_recall")} == {
        "oca_placement": "agency",
        "oca_recall": "agency",
    }
    assert DELIVERED_BY["lawsuit"] == DELIVERED_BY["asset_preservation"] == "legal"


def test_a_placement_with_an_empty_registry_fails_with_the_reason_on_the_action(
    store_settings: Settings,
) -> None:
    (row,) = deliver(store_settings, command(1, "oca_placement", template="oca_placement"))
    assert row["status"] == "failed"
    assert row["delivery"] == {"error": NO_CAPACITY}


def test_a_placement_places_the_balance_for_the_strategys_period_and_a_retry_places_once(
    store_settings: Settings,
) -> None:
    url = store_settings.effective_database_url
    agency = add_agency(url, "Anhui Collect", rate="0.18")
    action = command(1, "oca_placement", template="oca_placement", placement_days=60)
    (row,) = deliver(store_settings, action)
    expected_id = registry.placement_id_for(LOAN, EPISODE, 1)
    assert row["status"] == "sent"
    assert row["provider_id"] == expected_id
    assert row["delivery"] == {
        "agency": "Anhui Collect",
        "agency_id": agency.agency_id,
        "commission_rate": "0.18000",
        "period_end": (AT + timedelta(days=60)).isoformat(),
        "amount_placed": "3672.4000",
    }
    (again,) = deliver(store_settings, action)  # Temporal retried the moment
    assert again == row
    with session_scope(url) as session:
        (placement,) = registry.placements_for_loan(session, LOAN)
    assert (placement.placement_id, placement.amount_placed) == (expected_id, BALANCE)


def test_a_bad_placement_period_is_refused_not_guessed() -> None:
    """The contract refuses it (PlacementDetail): no placement is ever made for a guess."""
    for days in ("ninety", 0, 2.5):
        with pytest.raises(ValidationError, match="placement_days"):
            command(1, "oca_placement", placement_days=days)


def test_a_recall_closes_the_placement_once_even_when_retried(store_settings: Settings) -> None:
    url = store_settings.effective_database_url
    add_agency(url, "Anhui Collect")
    deliver(store_settings, command(1, "oca_placement"))
    recall = command(2, "oca_recall", days=20, recall_reason="bankruptcy reported")
    (row,) = deliver(store_settings, recall)
    assert row["status"] == "sent"
    assert row["provider_id"] == registry.placement_id_for(LOAN, EPISODE, 1)
    assert row["delivery"]["placement_status"] == "recalled"
    assert row["delivery"]["recalled_at"] == (AT + timedelta(days=20)).isoformat()
    (again,) = deliver(store_settings, recall)
    assert again == row
    (nothing,) = deliver(store_settings, command(3, "oca_recall", days=21))
    assert nothing["status"] == "failed"
    assert nothing["delivery"] == {"error": "the loan is not placed with an agency"}


def test_lawsuit_preparation_then_asset_preservation_then_filing_build_one_case_history(
    store_settings: Settings,
) -> None:
    url = store_settings.effective_database_url
    steps = [
        command(1, "lawsuit", days=60, template="lawsuit_preparation"),
        command(2, "asset_preservation", days=45 + 60),
        command(3, "lawsuit", days=90, template="lawsuit_filing"),
    ]
    rows = [deliver(store_settings, step)[0] for step in steps]
    case_id = legal.case_id_for(LOAN, EPISODE, 1)
    assert [(r["status"], r["provider_id"], r["delivery"]["case_status"]) for r in rows] == [
        ("sent", case_id, "preparing"),
        ("sent", case_id, "preparing"),
        ("sent", case_id, "filed"),
    ]
    for step in steps:  # every action retried: nothing is written twice
        deliver(store_settings, step)
    with session_scope(url) as session:
        (case,) = legal.cases_for_loan(session, LOAN)
        events = [(e.status, e.note) for e in legal.case_events(session, case.case_id)]
    assert case.amount_claimed == BALANCE
    assert events == [
        ("preparing", "lawsuit preparation started"),
        ("preparing", ASSET_PRESERVATION_NOTE),
        ("filed", "lawsuit filed"),
    ]


def test_asset_preservation_or_filing_without_a_case_opens_one(store_settings: Settings) -> None:
    url = store_settings.effective_database_url
    (preserved,) = deliver(store_settings, command(1, "asset_preservation"))
    with session_scope(url) as session:
        legal.advance_case(session, preserved["provider_id"], "closed", AT, "paid in full")
    (filed,) = deliver(store_settings, command(2, "lawsuit", days=1, template="lawsuit_filing"))
    assert filed["provider_id"] != preserved["provider_id"]  # the closed case stays closed
    with session_scope(url) as session:
        cases = legal.cases_for_loan(session, LOAN)
        history = legal.events_by_case(session, [c.case_id for c in cases])
    assert [(c.status, [e.status for e in history[c.case_id]]) for c in cases] == [
        ("closed", ["preparing", "preparing", "closed"]),
        ("filed", ["preparing", "filed"]),
    ]


def test_a_filing_on_a_case_already_past_filed_or_an_unknown_template_fails_with_the_reason(
    store_settings: Settings,
) -> None:
    url = store_settings.effective_database_url
    (opened,) = deliver(store_settings, command(1, "lawsuit", template="lawsuit_preparation"))
    with session_scope(url) as session:
        legal.advance_case(session, opened["provider_id"], "judgment", AT, "judgment")
    (late,) = deliver(store_settings, command(2, "lawsuit", days=1, template="lawsuit_filing"))
    assert late["status"] == "failed"
    assert "is judgment; it cannot go back to filed" in late["delivery"]["error"]
    (odd,) = deliver(store_settings, command(3, "lawsuit", days=2, template="appeal"))
    assert odd["status"] == "failed"
    assert "unknown lawsuit template 'appeal'" in odd["delivery"]["error"]
