"""Borrower data is never stored in clear in Temporal (issue 8): a history fetched raw from the
server, by a client without the codec, shows no name, phone or address (not in payloads, not in
failure messages, not in search attributes); the codec's client reads it back; the codec
endpoint decrypts for auditors only, by API key or by the Web UI's session cookie, with CORS for
the allowed UI origins only."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.routes.codec import SESSION_COOKIE, session_token
from audit.export import _payloads_in
from audit.replay import LabeledHistory, replay_histories
from core.codec import ENCODING, fingerprint
from core.settings import Settings
from core.temporal import SEARCH_ATTRIBUTES
from tests.conftest import AUDITOR, COLLECTOR, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, pay, sleep_until, start

NAME, PHONE, ADDRESS = "Wang Fang", "+8613800138000", "Renmin Road"


def _raw_client(env: WorkflowEnvironment) -> Client:
    """The same server, without the codec: what an operator with namespace access sees."""
    config = env.client.config()
    config["data_converter"] = pydantic_data_converter
    return Client(**config)


async def test_a_history_read_without_the_codec_shows_no_borrower_pii(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-PII-1"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)
    await pay(api, loan, "p-1", "100.00", await workflow_env.get_current_time())
    await sleep_until(workflow_env, due + timedelta(days=4), hour=12)

    raw = await _raw_client(workflow_env).get_workflow_handle(f"account-{loan}").fetch_history()
    text = raw.to_json()
    payloads = [p for event in raw.events for p in _payloads_in(event)]
    for secret in (NAME, PHONE, ADDRESS, "1200.00"):
        # The JSON's plain strings: workflow ids, search attribute keys, failure messages...
        # (payload bytes are base64 there, so this part cannot see them)
        assert secret not in text
        # ...and every payload's bytes, where the borrower's data would be.
        for payload in payloads:
            assert secret.encode() not in payload.data
    started = raw.events[0].workflow_execution_started_event_attributes
    messages = [  # the payment, as the update the API sends
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
        for e in raw.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    activities = [
        e.activity_task_scheduled_event_attributes
        for e in raw.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert messages and activities
    for carried in [started.input, *messages, *(a.input for a in activities)]:
        assert carried.payloads and all(
            p.metadata["encoding"] == ENCODING for p in carried.payloads
        )

    # The codec's client (every process of ours) reads the same history back.
    [workflow_input] = await workflow_env.client.data_converter.decode(started.input.payloads)
    assert workflow_input["account"]["borrower"]["name"] == NAME
    assert workflow_input["account"]["borrower"]["phones"][0]["number"] == PHONE

    # After a key rotation (new key first, the old one kept) the history still replays; once the
    # old key is dropped it cannot be read, and the replay says which key is missing.
    history = [LabeledHistory("before rotation", raw)]
    new_key = base64.b64encode(b"k" * 32).decode()
    rotated = Settings(ARREARS_PAYLOAD_KEY=f"{new_key},{Settings().payload_key_spec}")
    assert not (await replay_histories(history, rotated)).failed
    [dropped] = (await replay_histories(history, Settings(ARREARS_PAYLOAD_KEY=new_key))).failed
    assert fingerprint(base64.b64decode(Settings().payload_key_spec)) in (dropped.error or "")


async def _encrypted_body(env: WorkflowEnvironment) -> dict[str, Any]:
    """A /codec/decode body holding the borrower's name, encrypted as our processes do."""
    [encrypted] = await env.client.data_converter.encode([{"name": NAME}])
    return {
        "payloads": [
            {
                "metadata": {
                    k: base64.b64encode(v).decode() for k, v in encrypted.metadata.items()
                },
                "data": base64.b64encode(encrypted.data).decode(),
            }
        ]
    }


UI = {"Origin": "http://localhost:8233", "X-Namespace": "default"}
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
}


async def test_the_codec_endpoint_decrypts_for_auditors_and_answers_the_web_uis_cors(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient
) -> None:
    body = await _encrypted_body(workflow_env)
    response = await api.post("/codec/decode", json=body, headers={**AUDITOR, **UI})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "http://localhost:8233"
    assert response.headers["access-control-allow-credentials"] == "true"
    [plain] = response.json()["payloads"]
    assert base64.b64decode(plain["data"]) == b'{"name":"Wang Fang"}'
    assert base64.b64decode(plain["metadata"]["encoding"]) == b"json/plain"

    encoded = await api.post("/codec/encode", json=response.json(), headers=AUDITOR)
    assert encoded.status_code == 200
    [again] = encoded.json()["payloads"]
    assert base64.b64decode(again["metadata"]["encoding"]) == ENCODING
    roundtrip = Payload(
        metadata={k: base64.b64decode(v) for k, v in again["metadata"].items()},
        data=base64.b64decode(again["data"]),
    )
    assert await workflow_env.client.data_converter.decode([roundtrip]) == [{"name": NAME}]

    for origin in ("http://localhost:8233", "http://127.0.0.1:8233"):
        preflight = await api.options(
            "/codec/decode", headers={**UI, "Origin": origin, **PREFLIGHT}
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-credentials"] == "true"

    for other in (COLLECTOR, SUPERVISOR):
        refused = await api.post("/codec/decode", json=body, headers=other)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await api.post("/codec/decode", json=body)).status_code == 401
    bad = await api.post("/codec/decode", content=b"{not json", headers=AUDITOR)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"


async def test_the_web_ui_sees_why_it_was_refused_because_refusals_carry_cors_headers(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient
) -> None:
    body = await _encrypted_body(workflow_env)
    answers = {
        401: await api.post("/codec/decode", json=body, headers=UI),
        403: await api.post("/codec/decode", json=body, headers={**SUPERVISOR, **UI}),
        422: await api.post("/codec/decode", content=b"{not json", headers={**AUDITOR, **UI}),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        assert answer.headers["access-control-allow-origin"] == UI["Origin"], status
        assert answer.headers["access-control-allow-credentials"] == "true", status
        assert answer.json()["error"]["code"] in ("unauthenticated", "forbidden", "invalid_input")


async def test_a_page_from_an_origin_outside_the_allow_list_is_refused_even_with_an_auditor_key(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, settings: Settings
) -> None:
    body = await _encrypted_body(workflow_env)
    foreign = {"Origin": "https://evil.example"}
    preflight = await api.options("/codec/decode", headers={**foreign, **PREFLIGHT})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    answer = await api.post("/codec/decode", json=body, headers={**AUDITOR, **foreign})
    assert answer.status_code == 403 and "ARREARS_UI_ORIGINS" in answer.text
    assert "access-control-allow-origin" not in answer.headers

    # The allow-list is ARREARS_UI_ORIGINS: a deployment's own UI origin replaces the defaults.
    own = create_app(
        settings.model_copy(update={"ui_origins": "https://temporal.example.com"}),
        client=workflow_env.client,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=own), base_url="http://arrears.test"
    ) as client:
        ok = await client.post(
            "/codec/decode",
            json=body,
            headers={**AUDITOR, "Origin": "https://temporal.example.com"},
        )
        assert ok.status_code == 200, ok.text
        assert ok.headers["access-control-allow-origin"] == "https://temporal.example.com"
        local = await client.post("/codec/decode", json=body, headers={**AUDITOR, **UI})
        assert local.status_code == 403


async def test_an_auditor_signed_in_at_codec_session_decodes_in_the_web_ui_with_the_cookie_alone(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, settings: Settings
) -> None:
    """The Web UI cannot send our API key; it sends the browser's cookies ("include
    cross-origin credentials"). The auditor signs in once; collectors and supervisors cannot."""
    body = await _encrypted_body(workflow_env)
    page = await api.get("/codec/session")
    assert page.status_code == 200 and 'name="api_key"' in page.text

    for other in (COLLECTOR, SUPERVISOR):
        refused = await api.post("/codec/session", headers=other)
        assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
    signed_in = await api.post(
        "/codec/session",
        content="api_key=demo-auditor",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"] == "dave"
    set_cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "Path=/codec" in set_cookie
    assert "samesite=lax" in set_cookie.lower()  # plain HTTP: no SameSite=None without Secure
    cookie = signed_in.cookies[SESSION_COOKIE]
    api.cookies.clear()

    with_cookie = {**UI, "Cookie": f"{SESSION_COOKIE}={cookie}"}
    decoded = await api.post("/codec/decode", json=body, headers=with_cookie)
    assert decoded.status_code == 200, decoded.text
    assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == b'{"name":"Wang Fang"}'
    assert decoded.headers["access-control-allow-origin"] == UI["Origin"]

    claims, _, signature = cookie.partition(".")
    forged = session_token(settings, "dave", int(time.time()) + 3600).split(".")[0]
    expired = session_token(settings, "dave", int(time.time()) - 1)
    for bad in (f"{forged}.{signature}x", f"{claims}.AAAA", expired, "garbage"):
        refused = await api.post(
            "/codec/decode", json=body, headers={**UI, "Cookie": f"{SESSION_COOKIE}={bad}"}
        )
        assert refused.status_code == 401, bad
        assert refused.headers["access-control-allow-origin"] == UI["Origin"]
    # A cookie signed under another payload key (another deployment) is worthless here.
    other_key = Settings(ARREARS_PAYLOAD_KEY=base64.b64encode(b"o" * 32).decode())
    alien = session_token(other_key, "dave", int(time.time()) + 3600)
    refused = await api.post(
        "/codec/decode", json=body, headers={**UI, "Cookie": f"{SESSION_COOKIE}={alien}"}
    )
    assert refused.status_code == 401


# ------------------------------------------------------------------------------ failures


@activity.defn(name="pii_probe_call")
async def call_borrower(number: str) -> None:
    raise ApplicationError(f"no answer at {number}", non_retryable=True)


@workflow.defn(name="PiiProbeWorkflow", sandboxed=False)
class PiiProbe:
    """Fails the way a careless message would: the borrower's phone in the error text."""

    @workflow.run
    async def run(self, number: str) -> None:
        try:
            await workflow.execute_activity(
                call_borrower,
                number,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except Exception as exc:
            raise ApplicationError(f"could not reach {number}", non_retryable=True) from exc


async def test_a_failure_message_naming_the_phone_is_stored_encrypted_not_in_clear(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Failure messages and stack traces are not payloads: only the failure converter with
    encoded attributes (core.temporal.data_converter) keeps them out of the history."""
    queue = f"pii-{uuid.uuid4().hex[:8]}"
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=[PiiProbe], activities=[call_borrower]
    ):
        with pytest.raises(WorkflowFailureError) as failed:
            await workflow_env.client.execute_workflow(
                PiiProbe.run, PHONE, id=f"pii-probe-{queue}", task_queue=queue
            )
    # Our client decodes the real message back.
    assert PHONE in str(failed.value.cause)

    raw = await _raw_client(workflow_env).get_workflow_handle(f"pii-probe-{queue}").fetch_history()
    failures = [
        e.activity_task_failed_event_attributes.failure
        for e in raw.events
        if e.HasField("activity_task_failed_event_attributes")
    ] + [
        e.workflow_execution_failed_event_attributes.failure
        for e in raw.events
        if e.HasField("workflow_execution_failed_event_attributes")
    ]
    assert len(failures) == 2
    for failure in failures:
        assert failure.message == "Encoded failure" and not failure.stack_trace
        assert failure.encoded_attributes.metadata["encoding"] == ENCODING
        assert PHONE.encode() not in failure.encoded_attributes.data
    assert PHONE not in raw.to_json()
    for payload in (p for event in raw.events for p in _payloads_in(event)):
        assert PHONE.encode() not in payload.data


# ------------------------------------------------------------------------------ search attributes

SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.-]{0,39}")
"""What a search attribute value may look like: a code (state, bucket, stage, segment, patch
id), which a name, a phone number (a leading +) or an address cannot pass for."""
ALLOWED_SEARCH_ATTRIBUTES = {*SEARCH_ATTRIBUTES, "TemporalChangeVersion"}
"""Ours (core.temporal), and the SDK's record of the `workflow.patched` ids a run took."""


async def test_search_attributes_hold_only_allow_listed_keys_with_code_values(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """Search attributes are stored and indexed in clear (no codec touches them): only the keys
    the service registers, each carrying a short code, never borrower data."""
    loan = "L-PII-SA"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=3), hour=12)

    raw = await _raw_client(workflow_env).get_workflow_handle(f"account-{loan}").fetch_history()
    started = raw.events[0].workflow_execution_started_event_attributes
    carried = [started.search_attributes] + [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes
        for e in raw.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    seen: dict[str, set[str]] = {}
    for attributes in carried:
        for key, payload in attributes.indexed_fields.items():
            assert key in ALLOWED_SEARCH_ATTRIBUTES, f"search attribute {key} is not allowed"
            decoded = json.loads(payload.data)
            for value in decoded if isinstance(decoded, list) else [decoded]:
                assert isinstance(value, str) and SLUG.fullmatch(value), f"{key}={value!r}"
                for secret in (NAME, PHONE, ADDRESS, PHONE.lstrip("+")):
                    assert secret not in value
                seen.setdefault(key, set()).add(value)
    assert set(SEARCH_ATTRIBUTES) <= set(seen), seen
