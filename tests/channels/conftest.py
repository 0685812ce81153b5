"""The channels' test rig: the sandbox gateway and our API served for real over HTTP, in this
process, on ports held from the start (no free-port race), so the Twilio SDK, the gateway's
signed callbacks and our webhooks talk exactly as in production.

Both servers run as tasks on the test session's event loop (the API needs the session's Temporal
client); the blocking Twilio SDK therefore always runs in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.exactly_once import PROVIDER_UNAVAILABLE
from api.app import create_app
from core.serving import listening_socket, serve_in_background
from core.settings import Settings
from sandbox.app import Gateway, GatewayConfig, create_gateway_app
from store.channels import OutboundContactRow
from store.engine import session_scope
from workflows.contracts import (
    ActionCommand,
    ContactEvent,
    DeliveryRequest,
    DeliveryResult,
    DeliveryTarget,
    workflow_id_for,
)


@contextlib.asynccontextmanager
async def serving(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    async with serve_in_background(app, sock, lifespan="on"):
        yield


@dataclass
class Sockets:
    api: socket.socket
    gateway: socket.socket


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    held = Sockets(listening_socket(), listening_socket())
    yield held
    held.api.close()
    held.gateway.close()


@pytest.fixture
def channel_settings(settings: Settings, sockets: Sockets) -> Settings:
    """The test's settings, with the API and the gateway at the held ports (no TWILIO_*)."""
    return settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{sockets.api.getsockname()[1]}",
            "sandbox_url": f"http://127.0.0.1:{sockets.gateway.getsockname()[1]}",
            "twilio_account_sid": None,
            "twilio_auth_token": None,
            "twilio_from": None,
        }
    )


@dataclass
class SandboxHandle:
    url: str
    state: Gateway
    auth: tuple[str, str]

    async def outbox(self, to: str | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, auth=self.auth) as client:
            response = await client.get("/sandbox/outbox", params={"to": to} if to else None)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def reply(self, sender: str, body: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, auth=self.auth, timeout=30) as client:
            response = await client.post("/sandbox/inbound", json={"from": sender, "body": body})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        async with httpx.AsyncClient(base_url=self.url, auth=self.auth) as client:
            response = await client.post(
                "/sandbox/faults", json={"kind": kind, "count": count, "seconds": seconds}
            )
        response.raise_for_status()


@pytest.fixture
async def gateway(channel_settings: Settings, sockets: Sockets) -> AsyncIterator[SandboxHandle]:
    config = GatewayConfig.from_settings(channel_settings, callback_delay=0.02)
    app = create_gateway_app(config)
    async with serving(app, sockets.gateway):
        yield SandboxHandle(
            channel_settings.sandbox_url, app.state.gateway, (config.account_sid, config.auth_token)
        )


@pytest.fixture
async def webhook_api(
    channel_settings: Settings, sockets: Sockets, workflow_env: WorkflowEnvironment
) -> AsyncIterator[str]:
    """Our API, reachable where ARREARS_PUBLIC_URL says, signalling the test Temporal server."""
    app = create_app(
        channel_settings, client=workflow_env.client, clock=workflow_env.get_current_time
    )
    async with serving(app, sockets.api):
        yield channel_settings.public_url


@workflow.defn(name="AccountWorkflow", sandboxed=False)
class SignalRecorder:
    """Stands in for the AccountWorkflow: its history records the signals our webhooks send,
    whatever the real workflow does with them today."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(dynamic=True)
    def any_signal(self, name: str, args: Sequence[RawValue]) -> None:
        del name, args


@pytest.fixture
async def account_workflow(
    workflow_env: WorkflowEnvironment,
) -> AsyncIterator[Callable[[str], Awaitable[WorkflowHandle[Any, Any]]]]:
    """An open `account-{loan_id}` execution of `SignalRecorder`, terminated after the test.

    A worker polls its task queue on purpose: the time-skipping server stops skipping time for
    the rest of the session once a workflow is started that never completes a workflow task,
    even after it is terminated."""
    queue = f"signal-recorder-{uuid.uuid4().hex[:8]}"
    started: list[WorkflowHandle[Any, Any]] = []

    async def start(loan_id: str) -> WorkflowHandle[Any, Any]:
        handle: WorkflowHandle[Any, Any] = await workflow_env.client.start_workflow(
            "AccountWorkflow", id=workflow_id_for(loan_id), task_queue=queue
        )
        started.append(handle)
        return handle

    async with Worker(workflow_env.client, task_queue=queue, workflows=[SignalRecorder]):
        yield start
        for handle in started:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


async def contact_events(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]
) -> list[ContactEvent]:
    """The `contact_event` signals in the workflow's history, decoded (the payload codec too)."""
    found: list[ContactEvent] = []
    async for event in handle.fetch_history_events():
        if not event.HasField("workflow_execution_signaled_event_attributes"):
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        if attributes.signal_name != "contact_event":
            continue
        [value] = await env.client.data_converter.decode(attributes.input.payloads, [ContactEvent])
        found.append(value)
    return found


async def until(check: Callable[[], Any], timeout: float = 10) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, and return that:
    callbacks arrive asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def new_loan() -> str:
    return f"L-CH-{uuid.uuid4().hex[:10]}"


def delivery(
    loan_id: str,
    phone: str | None,
    seq: int = 1,
    *,
    kind: str = "sms_reminder",
    channel: str = "sms",
    template: str = "overdue_reminder",
    locale: str = "zh-CN",
    name: str = "王芳",
    detail: dict[str, Any] | None = None,
) -> DeliveryRequest:
    """A DeliveryRequest as the workflow sends it; business time is the workflow's."""
    return DeliveryRequest(
        loan_id=loan_id,
        workflow_id=workflow_id_for(loan_id),
        episode=f"episode-{loan_id}",
        action=ActionCommand(
            seq=seq,
            at=datetime(2026, 12, 6, 2, 0, tzinfo=UTC),
            kind=kind,
            channel=channel,
            stage="front_end",
            template=template,
            detail=detail or {},
        ),
        target=DeliveryTarget(name=name, locale=locale, timezone="Asia/Shanghai", phone=phone),
        currency="CNY",
        amount_overdue=Decimal("1200.50"),
        balance=Decimal("2400.50"),
        dpd=5,
        due_date=datetime(2026, 12, 1).date(),
    )


async def send_like_temporal(
    send: Callable[[DeliveryRequest], DeliveryResult],
    request: DeliveryRequest,
    attempts: int = 12,
    pause: float = 0.3,
) -> tuple[DeliveryResult, list[BaseException]]:
    """Run `send` in a thread and retry it as Temporal would: after any exception that is not a
    non-retryable ApplicationError. Returns the result and the failures on the way."""
    failures: list[BaseException] = []
    for _ in range(attempts):
        try:
            return await asyncio.to_thread(send, request), failures
        except ApplicationError as exc:
            if exc.non_retryable:
                raise
            failures.append(exc)
        except Exception as exc:  # an injected crash: Temporal retries it like any failure
            failures.append(exc)
        await asyncio.sleep(pause)
    raise AssertionError(f"still failing after {attempts} attempts: {failures[-3:]}")


def is_retryable(exc: BaseException) -> bool:
    return (
        isinstance(exc, ApplicationError)
        and exc.type == PROVIDER_UNAVAILABLE
        and not exc.non_retryable
    )


def outbound_rows(url: str, loan_id: str) -> list[OutboundContactRow]:
    with session_scope(url) as session:
        return list(
            session.exec(
                select(OutboundContactRow)
                .where(OutboundContactRow.loan_id == loan_id)
                .order_by(OutboundContactRow.action_seq)  # type: ignore[arg-type]
            ).all()
        )
