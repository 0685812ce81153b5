"""OpenTelemetry traces and the Temporal client every process observes through (issue 18 item 2).

With OTEL_EXPORTER_OTLP_ENDPOINT set, a process makes a tracer provider exporting over OTLP/HTTP
(batched, off the request path) and puts the SDK's TracingInterceptor on its Temporal client: the
API's FastAPI and SQLAlchemy spans, the client's StartWorkflow/SignalWorkflow/StartWorkflowUpdate
spans, the workflow's and the activities' spans join one trace. Unset, there is no provider, no
tracing interceptor and no instrumentation: nothing to pay for.

`observed_client` is how a process gets that client from the one core/temporal.py connected: the
same connection and converter, with our interceptors added (the correlation id always, tracing
when a tracer is given). Workers built on it inherit them.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.correlation import CorrelationInterceptor
from core.settings import Settings

TRACER_NAME = "arrears"


def tracer_provider(settings: Settings, service: str) -> TracerProvider | None:
    """The process's provider exporting to OTEL_EXPORTER_OTLP_ENDPOINT, installed as the global
    one (instrumentations look there); None when tracing is off."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.otel_service_name or service})
    )
    endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def tracer_of(provider: TracerProvider | None) -> trace.Tracer | None:
    return provider.get_tracer(TRACER_NAME) if provider is not None else None


def observed_client(client: Client, tracer: trace.Tracer | None = None) -> Client:
    """`client` with the correlation interceptor, and the SDK's tracing interceptor when a tracer
    is given. Tracing comes first: the correlation interceptor's workflow side must run inside it
    to hand a message's trace context to the activity it causes (core/correlation.py)."""
    config: Any = client.config()
    ours: list[Any] = [TracingInterceptor(tracer)] if tracer is not None else []
    ours.append(CorrelationInterceptor())
    config["interceptors"] = [*config.get("interceptors", ()), *ours]
    return Client(**config)
