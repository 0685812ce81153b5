"""A collector reads what the borrower replied (issue 6: "other replies are attached to the account
for the collector"): GET /v1/accounts/{loan_id}/messages lists the replies with their text and
what we sent with the provider's status, newest first, numbers masked to their last four
digits; only those who work or check the account may read it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities.channels.sms import SmsChannel
from api.routes.messages import mask_phone
from core.settings import Settings
from store.channels import OutboundContactRow
from store.engine import session_scope
from tests.channels.conftest import SandboxHandle, delivery, new_loan, until
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.seed import account_row, seed
from workflows.contracts import DeliveryRequest

MOBILE = "+8613800138000"


def _hold(url: str, loan_id: str, assignee: str | None) -> None:
    seed(url, account_row(loan_id, assignee=assignee))


def _at(request: DeliveryRequest, at: datetime) -> DeliveryRequest:
    """The request as the workflow would send it at `at` (business time)."""
    return request.model_copy(update={"action": request.action.model_copy(update={"at": at})})


def _delivered(url: str, loan_id: str, seq: int) -> bool:
    with session_scope(url) as session:
        row = session.exec(
            select(OutboundContactRow).where(
                OutboundContactRow.loan_id == loan_id, OutboundContactRow.action_seq == seq
            )
        ).first()
        return row is not None and row.provider_status == "delivered"


async def test_a_collector_reads_the_borrowers_reply_above_what_we_sent_numbers_masked(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
) -> None:
    loan = new_loan()
    url = channel_settings.effective_database_url
    channel = SmsChannel(channel_settings)
    an_hour_ago = await workflow_env.get_current_time() - timedelta(hours=1)
    await asyncio.to_thread(channel.send, _at(delivery(loan, MOBILE, 1), an_hour_ago))
    await until(lambda: _delivered(url, loan, 1))
    await gateway.reply(MOBILE, "I get paid on Friday, will pay then")

    async with httpx.AsyncClient(base_url=webhook_api) as api:
        response = await api.get(f"/v1/accounts/{loan}/messages", headers=COLLECTOR)

    assert response.status_code == 200, response.text
    reply, sent = response.json()
    assert (reply["direction"], reply["kind"], reply["body"]) == (
        "inbound",
        "reply",
        "I get paid on Friday, will pay then",
    )
    assert (sent["direction"], sent["status"], sent["action_seq"]) == ("outbound", "delivered", 1)
    with session_scope(url) as session:
        [row] = session.exec(select(OutboundContactRow)).all()
    assert (sent["template"], sent["body"]) == ("overdue_reminder", row.body)
    assert reply["number"] == sent["number"] == "+*********8000"
    assert MOBILE not in response.text


async def test_a_stop_reply_and_the_refused_text_after_it_are_listed_newest_first(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
) -> None:
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    now = await workflow_env.get_current_time()
    await asyncio.to_thread(channel.send, _at(delivery(loan, MOBILE, 1), now - timedelta(hours=2)))
    await until(lambda: _delivered(channel_settings.effective_database_url, loan, 1))
    await gateway.reply(MOBILE, "Stop.")
    await asyncio.to_thread(channel.send, _at(delivery(loan, MOBILE, 2), now + timedelta(hours=1)))

    async with httpx.AsyncClient(base_url=webhook_api) as api:
        response = await api.get(f"/v1/accounts/{loan}/messages", headers=SUPERVISOR)

    assert response.status_code == 200, response.text
    assert [
        (m["direction"], m["status"], m["error_code"], m["keyword"]) for m in response.json()
    ] == [
        ("outbound", "failed", 21610, None),
        ("inbound", "received", None, "STOP"),
        ("outbound", "delivered", None, None),
    ]


async def test_only_those_who_work_or_check_the_account_may_read_its_messages(
    webhook_api: str, channel_settings: Settings
) -> None:
    url = channel_settings.effective_database_url
    held_by_someone_else = new_loan()
    _hold(url, held_by_someone_else, "someone-else")
    path = f"/v1/accounts/{held_by_someone_else}/messages"

    async with httpx.AsyncClient(base_url=webhook_api) as api:
        assert (await api.get(path, headers=COLLECTOR)).status_code == 403
        assert (await api.get(path, headers=LOAN_SYSTEM)).status_code == 403
        assert (await api.get(path)).status_code == 401
        assert (await api.get(path, headers=SUPERVISOR)).json() == []
        assert (await api.get(path, headers=AUDITOR)).json() == []
        unknown = await api.get(f"/v1/accounts/{new_loan()}/messages", headers=SUPERVISOR)
    assert unknown.status_code == 404


def test_a_masked_number_shows_only_its_last_four_digits() -> None:
    assert mask_phone("+8613800138000") == "+*********8000"
    assert mask_phone("+12025550143") == "+*******0143"
    assert mask_phone("0143") == "0143"
    assert mask_phone(None) is None
