"""The sandbox gateway answers like Twilio (so the SDK's production path is what the tests run),
and supervisors see its outbox through our API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from activities.channels.sms import SmsChannel
from activities.channels.twilio_client import TwilioConfigError, connect_twilio
from api.app import create_app
from core.serving import serve_in_background
from core.settings import Settings
from sandbox.app import GatewayConfig, create_gateway_app
from tests.channels.conftest import SandboxHandle, delivery, new_loan
from tests.conftest import COLLECTOR, SUPERVISOR

MOBILE = "+8613800138000"


async def _raw(gateway: SandboxHandle, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        return await client.request(method, path, **kwargs)


async def test_the_gateway_answers_with_twilio_resources_and_error_bodies(
    gateway: SandboxHandle,
) -> None:
    sid, token = gateway.auth
    path = f"/2010-04-01/Accounts/{sid}/Messages.json"
    form = {"To": "+86123", "From": "+15005550006", "Body": "hi"}

    unauthenticated = await _raw(gateway, "POST", path, data=form, auth=(sid, "wrong"))
    invalid = await _raw(gateway, "POST", path, data=form, auth=gateway.auth)
    accepted = await _raw(gateway, "POST", path, data={**form, "To": MOBILE}, auth=gateway.auth)

    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == 20003
    assert invalid.status_code == 400
    assert invalid.json() == {
        "code": 21211,
        "message": "The 'To' number +86123 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    message = accepted.json()
    assert accepted.status_code == 201 and message["status"] == "queued"
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert message["num_segments"] == "1" and message["direction"] == "outbound-api"
    assert message["uri"] == f"/2010-04-01/Accounts/{sid}/Messages/{message['sid']}.json"
    fetched = await _raw(gateway, "GET", message["uri"], auth=gateway.auth)
    assert fetched.json()["sid"] == message["sid"]


async def test_the_sdk_lists_messages_by_recipient_and_date_sent_across_pages(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    channel = SmsChannel(channel_settings)
    loan = new_loan()
    for seq in (1, 2, 3):
        await asyncio.to_thread(channel.send, delivery(loan, MOBILE, seq))
    await asyncio.to_thread(channel.send, delivery(new_loan(), "+8613900000001"))
    await asyncio.sleep(0.2)  # all sent (date_sent is set when the carrier takes it)
    client = connect_twilio(channel_settings).client
    today = datetime.now(UTC)

    mine = await asyncio.to_thread(client.messages.list, to=MOBILE, page_size=2)
    since = await asyncio.to_thread(
        client.messages.list, to=MOBILE, date_sent_after=today - timedelta(days=1)
    )
    before = await asyncio.to_thread(
        client.messages.list, to=MOBILE, date_sent_before=today - timedelta(days=1)
    )

    assert len(mine) == 3 and {m.to for m in mine} == {MOBILE}  # two pages, followed
    assert [m.date_created for m in mine] == sorted((m.date_created for m in mine), reverse=True)
    assert len(since) == 3 and before == []


async def test_the_sdk_raises_twilio_errors_with_the_codes_we_classify(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    client = connect_twilio(channel_settings).client
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(
            client.messages.create, to="+862161234567", from_="+15005550006", body="hi"
        )
    assert (info.value.status, info.value.code) == (400, 21614)


def test_twilio_credentials_must_come_together(channel_settings: Settings) -> None:
    partial = channel_settings.model_copy(update={"twilio_account_sid": "AC123"})
    with pytest.raises(TwilioConfigError):
        connect_twilio(partial)
    real = channel_settings.model_copy(
        update={
            "twilio_account_sid": "AC1",
            "twilio_auth_token": SecretStr("t"),
            "twilio_from": "+1",
        }
    )
    connection = connect_twilio(real)
    assert not connection.sandbox and connection.account_sid == "AC1"
    assert connection.status_callback == channel_settings.public_url + "/v1/webhooks/twilio/status"


async def test_a_supervisor_sees_the_sandbox_outbox_through_the_api(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    result = await asyncio.to_thread(
        SmsChannel(channel_settings).send, delivery(new_loan(), MOBILE)
    )
    app = create_app(channel_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as api:
        shown = await api.get("/v1/sandbox/messages", headers=SUPERVISOR)
        narrowed = await api.get(
            "/v1/sandbox/messages", params={"to": "+8613900000001"}, headers=SUPERVISOR
        )
        collector = await api.get("/v1/sandbox/messages", headers=COLLECTOR)

    assert shown.status_code == 200
    assert [m["sid"] for m in shown.json()["messages"]] == [result.provider_id]
    assert shown.json()["messages"][0]["to"] == MOBILE and shown.json()["calls"] == []
    assert narrowed.json()["messages"] == []
    assert collector.status_code == 403
    # The documented example has the keys the outbox really has (the borrowers' replies are
    # `inbound`).
    documented = app.openapi()["paths"]["/v1/sandbox/messages"]["get"]["responses"]["200"]
    example = documented["content"]["application/json"]["example"]
    assert set(example) == set(shown.json()) == {"messages", "calls", "inbound", "opted_out"}


async def test_the_outbox_endpoint_says_clearly_when_real_twilio_is_used_or_the_gateway_is_down(
    channel_settings: Settings,
) -> None:
    real = channel_settings.model_copy(
        update={
            "twilio_account_sid": "AC1",
            "twilio_auth_token": SecretStr("t"),
            "twilio_from": "+1",
        }
    )
    answers = []
    for settings in (real, channel_settings):  # the gateway fixture is not running here
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://a.test") as api:
            answers.append(await api.get("/v1/sandbox/messages", headers=SUPERVISOR))

    assert answers[0].status_code == 404
    assert answers[0].json()["error"]["code"] == "sandbox_not_in_use"
    assert answers[1].status_code == 503
    assert answers[1].json()["error"]["code"] == "sandbox_unreachable"
    assert "arrears sandbox" in answers[1].json()["error"]["message"]


async def _send_with_callbacks(status_callbacks: bool) -> tuple[dict[str, Any], list[str]]:
    """One SMS through a gateway whose StatusCallback points at a listener served here; returns
    the message as the outbox shows it once settled and the statuses the listener received
    (each with a valid X-Twilio-Signature, or the test fails)."""
    received: list[str] = []
    settings = Settings(ARREARS_SANDBOX_URL="http://127.0.0.1:9")
    config = GatewayConfig.from_settings(
        settings, callback_delay=0.01, status_callbacks=status_callbacks
    )
    validator = RequestValidator(config.auth_token)
    listener = FastAPI()

    @listener.post("/status")
    async def status(request: Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        assert validator.validate(str(request.url), form, signature)
        received.append(form["MessageStatus"])
        return {}

    app = create_gateway_app(config)
    async with (
        serve_in_background(listener) as listener_url,
        serve_in_background(app, lifespan="on") as gateway_url,
        httpx.AsyncClient(base_url=gateway_url, auth=(config.account_sid, config.auth_token)) as c,
    ):
        form = {"To": MOBILE, "From": config.from_number, "Body": "hi"}
        form["StatusCallback"] = listener_url + "/status"
        sent = await c.post(f"/2010-04-01/Accounts/{config.account_sid}/Messages.json", data=form)
        assert sent.status_code == 201
        for _ in range(500):
            if app.state.gateway.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        outbox = (await c.get("/sandbox/outbox")).json()
    return outbox["messages"][0], received


async def test_status_callbacks_reach_a_listener_that_serves_them_signed() -> None:
    message, received = await _send_with_callbacks(status_callbacks=True)

    assert message["status"] == "delivered"
    assert sorted(received) == ["delivered", "sent"]
    assert [c["http_status"] for c in message["callbacks"]] == [200, 200]


async def test_a_gateway_told_nobody_listens_plays_the_message_out_without_callbacks() -> None:
    message, received = await _send_with_callbacks(status_callbacks=False)

    assert message["status"] == "delivered" and message["sent_at"] is not None
    assert received == [] and message["callbacks"] == []
