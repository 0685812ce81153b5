"""Nothing around the API books money (issue 21, item 1). Anyone who reaches the Temporal
frontend or its Web UI can send a signal or an update with a payload of their own making; only a
payload sealed with one of our keys is ever applied to an account, and a forged one does not
freeze the account either (the workflow task does not fail on it, now or on any replay)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from audit.replay import LabeledHistory, replay_histories
from core.codec import ENCODING, KEY_ID, EncryptionCodec
from core.settings import Settings
from tests.workflows.helpers import account_json, business_today, pay, sleep_until, start, status


class _ClaimsOurKey(PayloadCodec):
    """A forger who copies our encoding and key id from a history, with bytes of their own."""

    def __init__(self, key_id: str) -> None:
        self._key_id = key_id.encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(metadata={"encoding": ENCODING, KEY_ID: self._key_id}, data=os.urandom(64))
            for _ in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def _forger(env: WorkflowEnvironment, codec: PayloadCodec | None = None) -> Client:
    """A client on the same frontend without our keys (the Temporal CLI or Web UI)."""
    return Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=DataConverter(payload_codec=codec),
    )


async def _failed_tasks(env: WorkflowEnvironment, loan_id: str) -> int:
    history = await env.client.get_workflow_handle(f"account-{loan_id}").fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def test_a_payment_signal_not_sealed_with_our_key_is_never_booked_and_the_account_goes_on(
    workflow_env: WorkflowEnvironment, recording_worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json("L-FORGED", due))
    now = await workflow_env.get_current_time()
    forged = {"payment_id": "FORGED-1", "amount": "999.00", "paid_at": now.isoformat()}

    in_clear = _forger(workflow_env).get_workflow_handle("account-L-FORGED")
    await in_clear.signal("payment", forged)
    our_key_id = EncryptionCodec.from_spec(Settings().payload_key_spec).active_key_id
    copied = _forger(workflow_env, _ClaimsOurKey(our_key_id))
    await copied.get_workflow_handle("account-L-FORGED").signal("payment", forged)

    # A real payment through the API is booked; the forged ones are not.
    await pay(api, "L-FORGED", "PAY-REAL-1", "100.00", now)
    await sleep_until(workflow_env, due + timedelta(days=1))
    seen = await status(api, "L-FORGED")
    assert seen["paid_total"] == "100.00", seen
    assert seen["dpd"] == 1  # the episode kept deciding after the forged signals
    assert await _failed_tasks(workflow_env, "L-FORGED") == 0

    # An auditor's replay refuses them as the worker did: the history replays.
    history = await workflow_env.client.get_workflow_handle("account-L-FORGED").fetch_history()
    report = await replay_histories([LabeledHistory("forged", history)], Settings())
    assert report.outcomes and not report.failed, report.failed


async def test_an_update_not_sealed_with_our_key_is_rejected_and_nothing_enters_the_history(
    workflow_env: WorkflowEnvironment, recording_worker: Worker, api: httpx.AsyncClient
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json("L-FORGED-U", due))
    handle = _forger(workflow_env).get_workflow_handle("account-L-FORGED-U")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            "add_hold", {"kind": "bankruptcy", "reported_by": "someone", "reason": "forged"}
        )
    assert (await status(api, "L-FORGED-U"))["holds"] == []
    assert await _failed_tasks(workflow_env, "L-FORGED-U") == 0
