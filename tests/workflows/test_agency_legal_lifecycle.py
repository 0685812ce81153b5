"""Agency (OCA) and legal lifecycles on the real AccountWorkflow, through the API (issue 5;
PLAYBOOK.md sections 1, 8 and 12): an agency works the account for its period and earns
commission on what it brings in; it is recalled at the end of the period, on request or on
bankruptcy/death, then the next agency tries or the account goes to legal; the legal team
reports case news through the API; a payment in full ends the placement and the case; money
after write-off is booked as a recovery."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store import agencies as registry
from store import legal
from store.engine import session_scope
from store.models import PaymentRow
from tests.agencies.conftest import add_agency
from tests.conftest import ANTI_FRAUD, AUDITOR, COLLECTOR, LEGAL, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    pay,
    sleep_until,
    start,
    status,
    store_rows,
)
from tests.workflows.test_branches import first_call_task, open_tasks, work


def placements(url: str, loan: str) -> list[registry.PlacementRow]:
    with session_scope(url) as session:
        return registry.placements_for_loan(session, loan)


def payment_row(url: str, loan: str, payment_id: str) -> PaymentRow:
    with session_scope(url) as session:
        row = session.exec(
            select(PaymentRow).where(
                PaymentRow.loan_id == loan, PaymentRow.payment_id == payment_id
            )
        ).one()
        session.expunge(row)
        return row


def cases(url: str, loan: str) -> list[legal.LegalCaseRow]:
    with session_scope(url) as session:
        return legal.cases_for_loan(session, loan)


def by_step(listed: list[dict[str, Any]], step_id: str) -> list[dict[str, Any]]:
    return [a for a in listed if a["detail"].get("step_id") == step_id]


async def test_an_agency_earns_commission_is_recalled_at_period_end_a_second_agency_tries_and_payment_in_full_ends_it_all(  # noqa: E501
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    alpha = add_agency(database_url, "Alpha Recoveries", rate="0.20")
    beta = add_agency(database_url, "Beta Collect", rate="0.15")
    rates = {alpha.name: Decimal("0.20"), beta.name: Decimal("0.15")}
    loan = "L-OCA-LIFE"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))

    # DPD 60: the ladder places the account; the status names the agency and its period's end.
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    placed = await status(api, loan)
    first = placed["agency"]
    assert first in rates and placed["agency_period_end"] is not None
    [active] = [p for p in placements(database_url, loan) if p.status == registry.ACTIVE]

    # A payment while placed is the agency's, with its commission.
    await pay(api, loan, "P-OCA-1", "100.00", await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=1))
    row = payment_row(database_url, loan, "P-OCA-1")
    assert (row.agency_id, row.placement_id) == (active.agency_id, active.placement_id)
    assert row.commission == Decimal("100.00") * rates[first]

    # DPD 150: the period (90 days) has run out: recalled, and the other agency takes it.
    await sleep_until(workflow_env, due + timedelta(days=151), hour=12)
    listed = await actions(api, loan)
    [recall] = [a for a in listed if a["kind"] == "oca_recall"]
    assert recall["detail"]["recall_reason"] == "placement period ended"
    [secondary] = by_step(listed, "branch.oca_secondary")
    assert secondary["detail"]["exclude_agencies"] == [active.agency_id]
    second = (await status(api, loan))["agency"]
    assert second in rates and second != first
    made = placements(database_url, loan)
    assert [p.status for p in made] == [registry.ENDED, registry.ACTIVE]

    # DPD 150: the lawsuit prepared at DPD 120 is not filed at once (default@2, issue 17
    # item 4): the legal team is asked. Its approval recalls the second agency first, so the
    # placement period never overlaps the filing, and the suit is filed.
    [case] = cases(database_url, loan)
    assert case.status == legal.PREPARING
    [approval] = open_tasks(database_url, loan, "approval")
    assert approval["detail"]["approves"] == "lawsuit_filing"
    await work(api, approval["task_id"], {"outcome": "approved"}, who=LEGAL)
    await workflow_env.sleep(timedelta(minutes=5))
    listed = await actions(api, loan)
    recalls = [a for a in listed if a["kind"] == "oca_recall"]
    assert recalls[-1]["detail"]["recall_reason"] == "a lawsuit is being filed"
    [approved] = [a for a in listed if a["kind"] == "legal_filing"]
    assert approved["detail"]["recalled_from"] == second
    assert [p.status for p in placements(database_url, loan)] == [
        registry.ENDED,
        registry.RECALLED,
    ]
    assert (await status(api, loan))["agency"] is None
    [case] = cases(database_url, loan)
    assert case.status == "filed"

    # Paying everything ends the case (the agencies are gone: the payment is nobody's).
    balance = Decimal((await status(api, loan))["balance"])
    await pay(api, loan, "P-OCA-2", str(balance), await workflow_env.get_current_time())
    await workflow_env.sleep(timedelta(minutes=5))
    final = await status(api, loan)
    assert final["state"] == "cured"
    [closed] = cases(database_url, loan)
    assert closed.status == legal.CLOSED
    assert payment_row(database_url, loan, "P-OCA-2").agency_id is None


async def test_bankruptcy_recalls_the_account_from_its_agency_and_nobody_replaces_it(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Gamma Agency")
    add_agency(database_url, "Delta Agency")
    loan = "L-OCA-BANKRUPT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    assert (await status(api, loan))["agency"] is not None
    reported = await api.post(
        f"/v1/accounts/{loan}/bankruptcy", json={"reported_by": "court notice"}, headers=COLLECTOR
    )
    assert reported.status_code == 202, reported.text
    await workflow_env.sleep(timedelta(minutes=5))
    listed = await actions(api, loan)
    [recall] = [a for a in listed if a["kind"] == "oca_recall"]
    assert recall["detail"]["recall_reason"] == "bankruptcy reported"
    assert not by_step(listed, "branch.oca_secondary")
    assert [p.status for p in placements(database_url, loan)] == [registry.RECALLED]
    assert (await status(api, loan))["agency"] is None


async def test_a_supervisor_recalls_on_request_then_the_next_agency_takes_it(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Epsilon Agency")
    add_agency(database_url, "Zeta Agency")
    loan = "L-OCA-REQUEST"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    path = f"/v1/accounts/{loan}/agency-recall"
    body = {"reason": "agency not working the account"}
    early = await api.post(path, json=body, headers=SUPERVISOR)
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_placed"
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    first = (await status(api, loan))["agency"]
    assert (await api.post(path, json=body, headers=COLLECTOR)).status_code == 403
    assert (await api.post(path, json={"reason": ""}, headers=SUPERVISOR)).status_code == 422
    recalled = await api.post(path, json=body, headers=SUPERVISOR)
    assert recalled.status_code == 202, recalled.text
    await workflow_env.sleep(timedelta(minutes=5))
    listed = await actions(api, loan)
    [recall] = [a for a in listed if a["kind"] == "oca_recall"]
    assert "requested by carol" in recall["detail"]["recall_reason"]
    assert by_step(listed, "branch.oca_secondary")
    second = (await status(api, loan))["agency"]
    assert second is not None and second != first


async def test_with_one_agency_the_account_goes_to_legal_when_no_secondary_has_room(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    add_agency(database_url, "Only Agency")
    loan = "L-OCA-LEGAL"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=61), hour=12)
    recalled = await api.post(
        f"/v1/accounts/{loan}/agency-recall", json={"reason": "poor results"}, headers=SUPERVISOR
    )
    assert recalled.status_code == 202, recalled.text
    await workflow_env.sleep(timedelta(minutes=5))
    listed = await actions(api, loan)
    [secondary] = by_step(listed, "branch.oca_secondary")
    assert secondary["status"] == "failed"
    [to_legal] = by_step(listed, "branch.legal_after_agency")
    assert "no secondary agency had room" in to_legal["detail"]["reason"]
    [case] = cases(database_url, loan)
    assert case.status == legal.PREPARING
    assert (await status(api, loan))["legal_case"] == case.case_id


async def test_the_legal_team_reports_case_news_forward_only_and_a_closed_case_takes_no_more(
    api: httpx.AsyncClient, database_url: str
) -> None:
    from tests.agencies.conftest import AT

    with session_scope(database_url) as session:
        case = legal.open_case(
            session,
            loan_id="L-LEGAL-API",
            workflow_id="account-L-LEGAL-API",
            episode="e-1",
            action_seq=9,
            at=AT,
            amount_claimed=Decimal("3600.00"),
            currency="CNY",
            note="case opened for filing",
        )
        case_id = case.case_id
    path = f"/v1/legal-cases/{case_id}/status"
    for step in ("filed", "hearing", "hearing", "judgment", "enforcement"):
        answer = await api.post(path, json={"status": step, "note": step}, headers=SUPERVISOR)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == step
    back = await api.post(path, json={"status": "filed"}, headers=SUPERVISOR)
    assert back.status_code == 409 and back.json()["error"]["code"] == "case_status_backwards"
    unknown = await api.post(path, json={"status": "appeal"}, headers=SUPERVISOR)
    assert unknown.status_code == 422 and "appeal" in unknown.json()["error"]["message"]
    assert (await api.post(path, json={"status": "closed"}, headers=COLLECTOR)).status_code == 403
    assert (await api.post(path, json={"status": "closed"}, headers=AUDITOR)).status_code == 403
    closing = {"status": "closed", "note": "settled in court", "request_id": "R-1"}
    assert (await api.post(path, json=closing, headers=SUPERVISOR)).status_code == 200
    again = await api.post(path, json=closing, headers=SUPERVISOR)  # a retry changes nothing
    assert again.status_code == 200
    history = again.json()["history"]
    assert [e["status"] for e in history][-2:] == ["enforcement", "closed"]
    late = await api.post(path, json={"status": "closed"}, headers=SUPERVISOR)
    assert late.status_code == 409 and late.json()["error"]["code"] == "case_closed"
    missing = await api.post(
        "/v1/legal-cases/no-such-case/status", json={"status": "filed"}, headers=SUPERVISOR
    )
    assert missing.status_code == 404


async def test_a_payment_after_write_off_is_booked_once_as_a_recovery(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    loan = "L-RECOVERY"
    task, due = await first_call_task(workflow_env, api, database_url, loan)
    await work(api, task["task_id"], {"outcome": "deceased_reported"})
    await workflow_env.sleep(timedelta(minutes=5))
    [verify] = open_tasks(database_url, loan, "verification")
    await work(api, verify["task_id"], {"outcome": "verified"}, who=ANTI_FRAUD)
    await workflow_env.sleep(timedelta(minutes=5))
    [approval] = open_tasks(database_url, loan, "approval")
    await work(api, approval["task_id"], {"outcome": "approved"}, who=SUPERVISOR)
    await workflow_env.sleep(timedelta(minutes=5))
    assert (await status(api, loan))["state"] == "written_off"

    body = {"payment_id": "P-HEIR-1", "amount": "300.00", "paid_at": "2027-03-01T10:00:00+08:00"}
    from tests.conftest import LOAN_SYSTEM

    first = await api.post(f"/v1/accounts/{loan}/payments", json=body, headers=LOAN_SYSTEM)
    assert first.status_code == 202, first.text
    assert first.json()["booked_as"] == "recovery" and first.json()["duplicate"] is False
    again = await api.post(f"/v1/accounts/{loan}/payments", json=body, headers=LOAN_SYSTEM)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    rows = [r for r in store_rows(database_url, PaymentRow, loan) if r["booked_as"] == "recovery"]
    assert [(r["payment_id"], r["amount"]) for r in rows] == [("P-HEIR-1", Decimal("300.00"))]
