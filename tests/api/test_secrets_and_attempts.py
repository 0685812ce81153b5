"""What a published secret, a foreign page or a key guesser can no longer do (issue 21 item 10):
webhooks signed with the sandbox token in the source are not believed without a configured
secret; a codec session starts only from the Web UI's origins or the API's own page; unknown API
keys are limited per client (429 with Retry-After)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from api.app import create_app
from api.auth import FailedAttempts
from core.settings import SANDBOX_AUTH_TOKEN, Settings
from tests.conftest import AUDITOR, SUPERVISOR, auth

FORM = {"MessageSid": "SM-secret", "From": "+8613900000001", "To": "+10000000000", "Body": "STOP"}
INBOUND = "/v1/webhooks/twilio/inbound"


def _client(app: object, host: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(host, 40000)),  # type: ignore[arg-type]
        base_url="http://arrears.test",
    )


async def _signed(client: httpx.AsyncClient, settings: Settings, token: str) -> httpx.Response:
    url = settings.public_url.rstrip("/") + INBOUND
    signature = RequestValidator(token).compute_signature(url, FORM)
    return await client.post(
        INBOUND,
        content=urlencode(FORM),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


async def test_without_a_configured_secret_no_webhook_signed_with_the_published_token_is_believed(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    bare = settings.model_copy(update={"sandbox_auth_token": None})
    assert bare.twilio_account[1] == SANDBOX_AUTH_TOKEN  # the gateway still signs with it
    app = create_app(bare, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with _client(app) as client:
        response = await _signed(client, bare, SANDBOX_AUTH_TOKEN)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "webhook_secret_missing"
    assert "ARREARS_SANDBOX_AUTH_TOKEN" in response.json()["error"]["message"]

    # With the secret configured (as `arrears up` and the tests do), only it is believed.
    assert settings.webhook_auth_token and settings.webhook_auth_token != SANDBOX_AUTH_TOKEN
    app = create_app(settings, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with _client(app) as client:
        forged = await _signed(client, settings, SANDBOX_AUTH_TOKEN)
        assert forged.status_code == 403, forged.text
        genuine = await _signed(client, settings, settings.webhook_auth_token)
        assert genuine.status_code == 200, genuine.text


@pytest.fixture
async def app_client(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(settings, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with _client(app) as client:
        yield app, client


async def test_a_codec_session_starts_only_from_the_web_ui_or_the_api_own_origin(
    app_client: tuple[object, httpx.AsyncClient],
) -> None:
    _app, client = app_client
    for origin in ("https://evil.example", "null", "http://127.0.0.1:8233.evil.example"):
        response = await client.post("/codec/session", headers={**AUDITOR, "Origin": origin})
        assert response.status_code == 403, (origin, response.text)
        assert "set-cookie" not in response.headers
    for headers in (
        {"Origin": "http://127.0.0.1:8233"},  # the Web UI (ARREARS_UI_ORIGINS)
        {"Origin": "http://arrears.test"},  # the API's own sign-in form
        {},  # the CLI or a script: no browser, no forgery
    ):
        response = await client.post("/codec/session", headers={**AUDITOR, **headers})
        assert response.status_code == 200, (headers, response.text)
        assert "arrears_codec=" in response.headers["set-cookie"]


async def test_failed_api_key_attempts_are_limited_per_client_with_429_and_retry_after(
    app_client: tuple[object, httpx.AsyncClient],
) -> None:
    app, client = app_client
    now = [1000.0]
    limiter = FailedAttempts(limit=10, window=60, capacity=100, clock=lambda: now[0])
    app.state.failed_keys = limiter  # type: ignore[attr-defined]
    for attempt in range(10):
        response = await client.get("/v1/tasks", headers=auth(f"guess-{attempt}"))
        assert response.status_code == 401, response.text
    for headers in (auth("guess-11"), SUPERVISOR):  # blocked, whatever key comes next
        response = await client.get("/v1/tasks", headers=headers)
        assert response.status_code == 429, response.text
        assert response.json()["error"]["code"] == "too_many_attempts"
        assert response.headers["retry-after"] == "60"
    session = await client.post("/codec/session", headers=AUDITOR)
    assert session.status_code == 429 and session.headers["retry-after"] == "60"
    async with _client(app, host="10.0.0.2") as other:  # another client is not affected
        assert (await other.get("/v1/tasks", headers=SUPERVISOR)).status_code == 200
    now[0] += 61
    assert (await client.get("/v1/tasks", headers=SUPERVISOR)).status_code == 200


def test_the_attempt_limit_remembers_a_bounded_number_of_clients() -> None:
    limiter = FailedAttempts(limit=2, window=60, capacity=3, clock=lambda: 0.0)
    for client in ("a", "b", "c", "d"):
        limiter.failed(client)
        limiter.failed(client)
    assert limiter.retry_after("a") is None  # forgotten: the oldest went first
    assert limiter.retry_after("d") == 60
    assert len(limiter._failures) == 3
