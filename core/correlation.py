"""A correlation id per request that follows the work from the API into the workflow and its
activities, so one grep of the JSON logs finds everything one call caused (issue 18 item 3).

The API takes the caller's `X-Request-ID` (or makes one) and keeps it in a context variable; this
module's Temporal interceptor carries it in a header of every start, signal and update the API
sends. In the worker, the workflow side remembers the id of the last message it received (the
start's, then each signal's and update's) and puts it on the header of the first activity it
schedules next (and of child workflows and signals to them in between): a payment's signal wakes
the run loop, whose `apply_moment` books it, so that activity's logs carry the payment request's
id. Later activities, which a timer woke, carry none: a reminder days after a payment was not
caused by it. The activity side sets the context
variables for the activity's duration, which every log record of the activity (our loggers,
Twilio's, SQLAlchemy's) then carries, with its workflow id, run id and loan id (core/logs.py).

The same "last message caused the next activity" rule carries the message's trace context
(OpenTelemetry's W3C header written by the SDK's TracingInterceptor), so one payment's trace runs
API → signal → the activity that booked it, instead of ending at the signal (core/tracing.py).

Headers are plain JSON strings: an id and a trace context are not borrower data. Nothing here
changes what the workflow decides or the commands it emits, so histories replay unchanged.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

import opentelemetry.context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio import activity, client, workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

HEADER = "arrears-correlation-id"
TRACE_HEADER = "_tracer-data"  # the SDK TracingInterceptor's header key
REQUEST_ID_HEADER = "X-Request-ID"

correlation_id: ContextVar[str | None] = ContextVar("arrears_correlation_id", default=None)
"""The current request's correlation id (API) or the one the running activity was given."""
work_context: ContextVar[Mapping[str, str] | None] = ContextVar("arrears_work", default=None)
"""workflow_id, run_id, loan_id and activity of the running activity (logged with each record)."""

_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:/=+-]{1,128}")
_converter = PayloadConverter.default
_propagator = CompositePropagator([TraceContextTextMapPropagator()])


def accept_request_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is a plausible id, else a fresh one: the id goes into
    every log line of the request, so free text (or a borrower's number) is not taken."""
    if value and _ACCEPTABLE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def loan_id_of(workflow_id: str | None) -> str | None:
    """The loan of an account workflow (`account-{loan_id}`) or of its subflows
    (`account-{loan_id}-...` is not assumed: only the account workflow's own id is read)."""
    if workflow_id and workflow_id.startswith("account-"):
        return workflow_id.removeprefix("account-")
    return None


def _header(value: str) -> Payload:
    return _converter.to_payloads([value])[0]


def _read(headers: Mapping[str, Payload], key: str) -> Any:
    payload = headers.get(key)
    if payload is None:
        return None
    try:
        return _converter.from_payloads([payload])[0]
    except Exception:  # a header someone else wrote in another shape: not ours to fail on
        return None


def _with_id(headers: Mapping[str, Payload], value: str | None) -> Mapping[str, Payload]:
    return {**headers, HEADER: _header(value)} if value else headers


@contextmanager
def _attached_trace(carrier: Any) -> Iterator[None]:
    """Make a message's trace context current while an outbound command is scheduled, so the
    SDK tracing interceptor (inside this one) parents its span on the message's trace."""
    if not isinstance(carrier, dict) or not carrier:
        yield
        return
    token = opentelemetry.context.attach(_propagator.extract(carrier))
    try:
        yield
    finally:
        opentelemetry.context.detach(token)


# ------------------------------------------------------------------ client side (API, CLI)


class _ClientOutbound(client.OutboundInterceptor):
    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        input.headers = _with_id(input.headers, correlation_id.get())
        return await super().start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        input.headers = _with_id(input.headers, correlation_id.get())
        await super().signal_workflow(input)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        input.headers = _with_id(input.headers, correlation_id.get())
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        value = correlation_id.get()
        start, update = input.start_workflow_input, input.update_workflow_input
        start.headers = _with_id(start.headers, value)
        update.headers = _with_id(update.headers, value)
        return await super().start_update_with_start_workflow(input)


# ------------------------------------------------------------------ worker side


class _WorkflowInbound(WorkflowInboundInterceptor):
    """Per workflow run: the id (and trace context) of the last message, handed to the next
    activity or child workflow it schedules."""

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self.current: str | None = None
        self.cause: Any = None
        super().init(_WorkflowOutbound(outbound, self))

    def _received(self, headers: Mapping[str, Payload]) -> None:
        value = _read(headers, HEADER)
        self.current = value if isinstance(value, str) else None
        correlation_id.set(self.current)  # for workflow.logger lines of this handler / run
        self.cause = _read(headers, TRACE_HEADER)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self._received(input.headers)
        self.cause = None  # the run's own trace is the SDK interceptor's business
        return await super().execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        self._received(input.headers)
        await super().handle_signal(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        self._received(input.headers)
        return await super().handle_update_handler(input)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, root: _WorkflowInbound) -> None:
        super().__init__(next)
        self.root = root

    @contextmanager
    def _caused(self) -> Iterator[None]:
        cause, self.root.cause = self.root.cause, None
        with _attached_trace(cause):
            yield

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = _with_id(input.headers, self.root.current)
        self.root.current = None  # the message's work is this activity; timers wake the next
        with self._caused():
            return super().start_activity(input)

    async def start_child_workflow(
        self, input: StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        input.headers = _with_id(input.headers, self.root.current)
        with self._caused():
            return await super().start_child_workflow(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        input.headers = _with_id(input.headers, self.root.current)
        await super().signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        input.headers = _with_id(input.headers, self.root.current)
        await super().signal_external_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        input.headers = _with_id(input.headers, self.root.current)
        super().continue_as_new(input)


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        value = _read(input.headers, HEADER)
        work = {
            "workflow_id": info.workflow_id or "",
            "run_id": info.workflow_run_id or "",
            "activity": info.activity_type,
        }
        loan_id = loan_id_of(info.workflow_id)
        if loan_id:
            work["loan_id"] = loan_id
        # Set here, in the activity's own task: a threaded activity runs in a copy of it.
        id_token = correlation_id.set(value if isinstance(value, str) else None)
        work_token = work_context.set(work)
        try:
            return await super().execute_activity(input)
        finally:
            work_context.reset(work_token)
            correlation_id.reset(id_token)


class CorrelationInterceptor(client.Interceptor, Interceptor):
    """Carries the correlation id (and a message's trace context) API → workflow → activity.
    Put it on the client after the SDK's TracingInterceptor (core/observability.py does)."""

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _WorkflowInbound
