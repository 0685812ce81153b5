"""Borrower data is never stored in clear in Temporal (issue 8): a history fetched raw from the
server, by a client without the codec, shows no name, phone or address; the codec's client reads
it back; the codec endpoint decrypts for auditors only, with CORS for the Web UI."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from arrears.audit import LabeledHistory, _payloads_in, replay_histories
from arrears.codec import ENCODING, fingerprint
from arrears.settings import Settings
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
        assert secret not in text
        for payload in payloads:
            assert secret.encode() not in payload.data
    started = raw.events[0].workflow_execution_started_event_attributes
    signals = [
        e.workflow_execution_signaled_event_attributes
        for e in raw.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    activities = [
        e.activity_task_scheduled_event_attributes
        for e in raw.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert signals and activities
    for carried in [started.input, *(s.input for s in signals), *(a.input for a in activities)]:
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
    rotated = Settings(ARREARS_PAYLOAD_KEY=f"{new_key},{Settings().payload_key}")
    assert not (await replay_histories(history, rotated)).failed
    [dropped] = (await replay_histories(history, Settings(ARREARS_PAYLOAD_KEY=new_key))).failed
    assert fingerprint(base64.b64decode(Settings().payload_key)) in (dropped.error or "")


async def test_the_codec_endpoint_decrypts_for_auditors_and_answers_the_web_uis_cors(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient
) -> None:
    [encrypted] = await workflow_env.client.data_converter.encode([{"name": NAME}])
    body = {
        "payloads": [
            {
                "metadata": {
                    k: base64.b64encode(v).decode() for k, v in encrypted.metadata.items()
                },
                "data": base64.b64encode(encrypted.data).decode(),
            }
        ]
    }
    ui = {"Origin": "http://localhost:8233", "X-Namespace": "default"}
    response = await api.post("/codec/decode", json=body, headers={**AUDITOR, **ui})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "http://localhost:8233"
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

    preflight = await api.options(
        "/codec/decode",
        headers={
            **ui,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]

    for other in (COLLECTOR, SUPERVISOR):
        refused = await api.post("/codec/decode", json=body, headers=other)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await api.post("/codec/decode", json=body)).status_code == 401
    bad = await api.post("/codec/decode", content=b"{not json", headers=AUDITOR)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
