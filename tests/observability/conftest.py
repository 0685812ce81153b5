"""The API and a worker wired as production wires them (issue 18): one Temporal client with the
correlation and tracing interceptors, on a runtime serving Prometheus metrics, connected to the
test's time-skipping server; spans kept in memory, log lines captured as JSON."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core import logmask
from core.logs import build_handler
from core.settings import Settings
from core.tracing import observed_client, tracer_of
from tests.conftest import _free_port
from worker.main import build_worker
from worker.metrics import metrics_runtime


@dataclass
class Observed:
    api: httpx.AsyncClient
    worker_metrics_url: str
    spans: InMemorySpanExporter


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every record of the process as the JSON lines core/logs.py writes, at INFO and above."""
    stream = io.StringIO()
    handler = build_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logmask.uninstall()


@pytest.fixture
async def observed(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Observed]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    address = f"127.0.0.1:{_free_port()}"
    connected = await Client.connect(
        workflow_env.client.service_client.config.target_host,
        namespace=workflow_env.client.namespace,
        data_converter=workflow_env.client.data_converter,
        runtime=metrics_runtime(address),
    )
    client = observed_client(connected, tracer_of(provider))
    app = create_app(settings, client=client, clock=workflow_env.get_current_time, traces=provider)
    with ThreadPoolExecutor(max_workers=32) as executor:
        async with (
            build_worker(client, settings, executor),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
            ) as api,
        ):
            yield Observed(api, f"http://{address}/metrics", spans)
    provider.shutdown()
