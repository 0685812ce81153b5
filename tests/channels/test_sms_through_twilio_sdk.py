"""SMS through the real Twilio SDK against the sandbox gateway: what is sent, refused, and how
delivery statuses and borrower replies come back through signed webhooks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from activities.channels.sms import SmsChannel
from core.settings import Settings
from store.channels import (
    NO_WORKFLOW,
    SIGNALLING,
    ConsentChangeRow,
    InboundMessageRow,
    OutboundContactRow,
)
from store.engine import session_scope
from tests.channels.conftest import (
    SandboxHandle,
    contact_events,
    delivery,
    new_loan,
    outbound_rows,
    until,
)

MOBILE = "+8613800138000"
US_MOBILE = "+12025550143"


async def _callbacks(gateway: SandboxHandle, number: str, count: int) -> list[dict[str, Any]]:
    callbacks: list[dict[str, Any]] = (await gateway.outbox(number))["messages"][0]["callbacks"]
    return callbacks if len(callbacks) >= count else []


def _settled(row: OutboundContactRow) -> bool:
    """A webhook's signal bookkeeping has finished (`signalling` is its claim while it works)."""
    return row.signal_outcome not in (None, SIGNALLING)


def _row(url: str, loan_id: str, seq: int = 1) -> OutboundContactRow | None:
    return next((r for r in outbound_rows(url, loan_id) if r.action_seq == seq), None)


async def test_an_accepted_sms_reaches_the_outbox_and_its_signed_delivered_callback_is_recorded(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    result = await asyncio.to_thread(channel.send, delivery(loan, MOBILE))

    assert result.status == "sent" and result.error_code is None
    assert result.provider_id is not None and result.provider_id.startswith("SM")
    outbox = (await gateway.outbox(MOBILE))["messages"]
    assert [m["sid"] for m in outbox] == [result.provider_id]
    body = outbox[0]["body"]
    assert "王芳" in body and "¥1,200.50" in body and "2026年12月1日" in body and "5天" in body
    assert result.detail["segments"] == outbox[0]["segments"] and result.detail["locale"] == "zh-CN"
    assert result.detail["to"] == "+86138****8000"  # the actions table never shows the number

    url = channel_settings.effective_database_url
    row = await until(
        lambda: (r := _row(url, loan)) and r.provider_status == "delivered" and r or None
    )
    assert row.provider_sid == result.provider_id and row.status_at is not None
    callbacks = await until(
        lambda: _callbacks(gateway, MOBILE, 2)
    )  # Twilio's callbacks come in no guaranteed order
    assert sorted((c["status"], c["http_status"]) for c in callbacks) == [
        ("delivered", 204),
        ("sent", 204),
    ]


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+86123", 21211),  # not a phone number
        ("+15005550001", 21211),  # Twilio's magic invalid number
        ("+862161234567", 21614),  # a Shanghai landline cannot receive SMS
        ("+15005550009", 21614),
        ("+15005550004", 21610),  # unsubscribed at the provider
    ],
)
async def test_a_number_the_provider_refuses_fails_with_its_error_code_and_is_not_retried(
    gateway: SandboxHandle, channel_settings: Settings, number: str, code: int
) -> None:
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    first = await asyncio.to_thread(channel.send, delivery(loan, number))
    again = await asyncio.to_thread(channel.send, delivery(loan, number))

    assert (first.status, first.error_code, first.provider_id) == ("failed", code, None)
    assert (again.status, again.error_code) == ("failed", code) and again.detail["replayed"]
    assert (await gateway.outbox())["messages"] == []
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.state, row.attempts) == ("refused", 1)


async def test_us_profile_sms_carries_the_opt_out_instruction(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    channel = SmsChannel(channel_settings)
    request = delivery(
        new_loan(),
        US_MOBILE,
        locale="en-US",
        name="Jane Roe",
        detail={"opt_out_text": "Reply STOP to opt out."},
    )
    result = await asyncio.to_thread(channel.send, request)

    [message] = (await gateway.outbox(US_MOBILE))["messages"]
    assert result.status == "sent" and result.detail["locale"] == "en"
    assert message["body"].startswith("Jane Roe, your payment of CN¥1,200.50 due on December 1")
    assert message["body"].endswith(" Reply STOP to opt out.")


async def test_stop_revokes_consent_tells_the_workflow_and_no_further_sms_goes_out_until_start(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
    account_workflow: Any,
) -> None:
    loan = new_loan()
    handle = await account_workflow(loan)
    channel = SmsChannel(channel_settings)
    url = channel_settings.effective_database_url
    assert (await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 1))).status == "sent"

    answer = await gateway.reply(MOBILE, " stop ")
    assert answer["webhook"]["http_status"] == 200 and answer["opted_out"]

    with session_scope(url) as session:
        [change] = session.exec(select(ConsentChangeRow)).all()
    assert (change.loan_id, change.number, change.granted, change.keyword) == (
        loan,
        MOBILE,
        False,
        "STOP",
    )
    events = await contact_events(workflow_env, handle)
    assert [(e.kind, e.channel, e.number) for e in events] == [("consent_revoked", "sms", MOBILE)]
    assert events[0].detail.event_id == answer["sid"]

    blocked = await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 2))
    assert (blocked.status, blocked.error_code) == ("failed", 21610)
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1  # nothing more reached her

    await gateway.reply(MOBILE, "START")
    events = await contact_events(workflow_env, handle)
    assert [e.kind for e in events] == ["consent_revoked", "consent_restored"]
    resumed = await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 3))
    assert resumed.status == "sent"
    assert len((await gateway.outbox(MOBILE))["messages"]) == 2


async def test_help_is_answered_with_the_help_text_in_the_language_we_wrote_in(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    channel = SmsChannel(channel_settings)
    await asyncio.to_thread(channel.send, delivery(new_loan(), MOBILE))

    answer = await gateway.reply(MOBILE, "help")

    twiml = answer["webhook"]["response"]
    assert answer["webhook"]["http_status"] == 200
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>【帮助】')
    assert "回复STOP或TD退订" in twiml and not answer["opted_out"]


async def test_any_other_reply_is_attached_to_the_account_and_signalled_for_the_collector(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
    account_workflow: Any,
) -> None:
    loan = new_loan()
    handle = await account_workflow(loan)
    await asyncio.to_thread(SmsChannel(channel_settings).send, delivery(loan, MOBILE))

    answer = await gateway.reply(MOBILE, "我周五发工资后还款")

    assert answer["webhook"]["response"].endswith("<Response />")
    with session_scope(channel_settings.effective_database_url) as session:
        [reply] = session.exec(select(InboundMessageRow)).all()
        consent = session.exec(select(ConsentChangeRow)).all()
    assert (reply.loan_id, reply.kind, reply.body) == (loan, "reply", "我周五发工资后还款")
    assert consent == []
    [event] = await contact_events(workflow_env, handle)
    assert (event.kind, event.detail.inbound_id) == ("inbound_reply", reply.id)


async def test_a_redelivered_stop_webhook_changes_consent_and_signals_only_once(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
    account_workflow: Any,
) -> None:
    loan = new_loan()
    handle = await account_workflow(loan)
    await asyncio.to_thread(SmsChannel(channel_settings).send, delivery(loan, MOBILE))
    answer = await gateway.reply(MOBILE, "UNSUBSCRIBE")
    params = {
        "AccountSid": gateway.auth[0],
        "MessageSid": answer["sid"],
        "From": MOBILE,
        "To": answer["to"],
        "Body": "UNSUBSCRIBE",
    }
    await _post_signed(webhook_api + "/v1/webhooks/twilio/inbound", params, gateway.auth[1])

    with session_scope(channel_settings.effective_database_url) as session:
        assert len(session.exec(select(ConsentChangeRow)).all()) == 1
        assert len(session.exec(select(InboundMessageRow)).all()) == 1
    assert [e.kind for e in await contact_events(workflow_env, handle)] == ["consent_revoked"]


async def _post_signed(url: str, params: dict[str, str], token: str) -> httpx.Response:
    signature = RequestValidator(token).compute_signature(url, params)
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers={"X-Twilio-Signature": signature})


async def test_a_forged_or_missing_signature_is_refused_with_403_and_changes_nothing(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    loan = new_loan()
    result = await asyncio.to_thread(
        SmsChannel(channel_settings).send, delivery(loan, "+8613800000404")
    )
    url = channel_settings.effective_database_url
    await until(lambda: (r := _row(url, loan)) and r.provider_status == "undelivered")
    status_url = webhook_api + "/v1/webhooks/twilio/status"
    params = {"MessageSid": str(result.provider_id), "MessageStatus": "read"}

    forged = await _post_signed(status_url, params, "not-the-auth-token")
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(status_url, data=params)
        tampered = await client.post(
            status_url,
            data={**params, "MessageStatus": "delivered"},
            headers={
                "X-Twilio-Signature": RequestValidator(gateway.auth[1]).compute_signature(
                    status_url, params
                )
            },
        )

    for response in (forged, unsigned, tampered):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalid_signature"
    row = _row(url, loan)
    assert row is not None and row.provider_status == "undelivered"
    genuine = await _post_signed(status_url, params, gateway.auth[1])
    assert genuine.status_code == 204  # the same request, properly signed, is taken
    row = _row(url, loan)
    assert row is not None and row.provider_status == "read"


async def test_undelivered_tells_the_workflow_delivery_failed_and_a_dead_number_number_dead(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
    account_workflow: Any,
) -> None:
    loan = new_loan()
    handle = await account_workflow(loan)
    channel = SmsChannel(channel_settings)
    url = channel_settings.effective_database_url
    unreachable = await asyncio.to_thread(channel.send, delivery(loan, "+8613800000404", 1))
    dead = await asyncio.to_thread(channel.send, delivery(loan, "+8613800000410", 2))
    assert unreachable.status == dead.status == "sent"  # accepted; the failure comes later

    await until(lambda: all(_settled(r) for r in outbound_rows(url, loan)) or None)
    events = await contact_events(workflow_env, handle)
    assert sorted((e.detail.action_seq, e.kind, e.number, e.detail.error_code) for e in events) == [
        (1, "delivery_failed", "+8613800000404", 30003),
        (2, "number_dead", "+8613800000410", 30005),
    ]
    rows = outbound_rows(url, loan)
    assert [(r.provider_status, r.error_code) for r in rows] == [
        ("undelivered", 30003),
        ("failed", 30005),
    ]


async def test_a_failed_delivery_for_an_account_without_a_workflow_is_only_recorded(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    loan = new_loan()
    await asyncio.to_thread(SmsChannel(channel_settings).send, delivery(loan, "+8613800000410"))
    url = channel_settings.effective_database_url
    row = await until(lambda: (r := _row(url, loan)) and _settled(r) and r or None)
    assert (row.provider_status, row.error_code, row.signal_outcome) == (
        "failed",
        30005,
        NO_WORKFLOW,
    )
