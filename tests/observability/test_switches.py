"""What the observability settings switch (issue 18): tracing only with an OTLP endpoint, the
worker's metrics endpoint only with a port, and activity failures counted by kind on it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.app import create_app
from core.correlation import CorrelationInterceptor
from core.settings import Settings
from core.tracing import observed_client, tracer_provider
from tests.conftest import _free_port
from tests.observability.test_payment_is_observed import eventually, samples, value
from worker.metrics import ActivityMetricsInterceptor, metrics_address, metrics_runtime


def test_without_an_otlp_endpoint_nothing_traces(settings: Settings) -> None:
    assert settings.otlp_endpoint is None
    assert tracer_provider(settings, "arrears-api") is None
    assert not getattr(create_app(settings), "_is_instrumented_by_opentelemetry", False)
    from opentelemetry.sdk.trace import TracerProvider

    traced = create_app(settings, traces=TracerProvider())
    assert getattr(traced, "_is_instrumented_by_opentelemetry", False)


async def test_the_client_always_carries_correlation_and_traces_only_with_a_tracer(
    workflow_env: WorkflowEnvironment,
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    before = len(workflow_env.client.config()["interceptors"])  # the test server's own
    untraced = observed_client(workflow_env.client).config()["interceptors"][before:]
    assert [type(i) for i in untraced] == [CorrelationInterceptor]
    traced = observed_client(workflow_env.client, TracerProvider().get_tracer("t"))
    added = [type(i) for i in traced.config()["interceptors"][before:]]
    assert added == [TracingInterceptor, CorrelationInterceptor]  # tracing outside, ours in


def test_the_worker_serves_no_metrics_without_a_port(settings: Settings) -> None:
    assert settings.worker_metrics_port is None
    assert metrics_address(settings) is None
    given = settings.model_copy(update={"worker_metrics_port": 9100})
    assert metrics_address(given) == "127.0.0.1:9100"


attempts: dict[str, int] = {}


@activity.defn(name="flaky_send")
def flaky_send(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] == 1:
        raise ApplicationError("gateway said 503", type="ProviderUnavailable")
    return "sent"


@workflow.defn(name="FlakyOnce")
class FlakyOnce:
    @workflow.run
    async def run(self, key: str) -> str:
        return str(
            await workflow.execute_activity(
                "flaky_send",
                key,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
            )
        )


async def test_an_activity_attempt_that_raised_is_counted_by_activity_and_error(
    workflow_env: WorkflowEnvironment,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    address = f"127.0.0.1:{_free_port()}"
    client = await Client.connect(
        workflow_env.client.service_client.config.target_host,
        namespace=workflow_env.client.namespace,
        runtime=metrics_runtime(address),
    )
    queue = f"flaky-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[FlakyOnce],
            activities=[flaky_send],
            activity_executor=executor,
            workflow_runner=UnsandboxedWorkflowRunner(),
            interceptors=[ActivityMetricsInterceptor()],
        ):
            result = await client.execute_workflow(
                FlakyOnce.run, queue, id=f"flaky-{queue}", task_queue=queue
            )
            assert result == "sent"

            async def counted() -> float:
                async with httpx.AsyncClient() as http:
                    found = samples((await http.get(f"http://{address}/metrics")).text)
                return value(
                    found,
                    "arrears_activity_failures_total",
                    activity_type="flaky_send",
                    error="ProviderUnavailable",
                )

            assert await eventually(counted) == 1
