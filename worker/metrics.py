"""The worker's Prometheus endpoint and its activity failure counter (issue 18 item 1).

The Temporal SDK's Rust core serves Prometheus text on ARREARS_WORKER_METRICS_PORT through the
process's default runtime: the SDK's own `temporal_*` metrics (task slots, schedule-to-start
latency, poll results, sticky cache, activity and workflow task failures...) and the counters our
activities add through the SDK's activity meter (activities/metrics.py), so one scrape per worker
gets both. Unset, no runtime is installed and nothing listens.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.metrics import ACTIVITY_FAILURES, DESCRIPTIONS
from core.settings import Settings


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime whose metrics are served as Prometheus text at `bind_address` (host:port)."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def install_metrics_runtime(settings: Settings) -> str | None:
    """Make the metrics runtime this process's default, before any client connects (a client
    keeps the runtime it was made with). The address served, or None when the port is unset."""
    if settings.worker_metrics_port is None:
        return None
    address = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    Runtime.set_default(metrics_runtime(address), error_if_already_set=False)
    return address


def error_kind(exc: BaseException) -> str:
    """A bounded label for a failure: the ApplicationError's type, else the exception class."""
    if isinstance(exc, ApplicationError) and exc.type:
        return exc.type
    return type(exc).__name__


class _CountFailures(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except BaseException as exc:
            meter = activity.metric_meter()
            meter.create_counter(ACTIVITY_FAILURES, DESCRIPTIONS[ACTIVITY_FAILURES]).add(
                1, {"error": error_kind(exc)}
            )
            raise


class ActivityMetricsInterceptor(Interceptor):
    """Counts every activity attempt that raised, by activity type (the meter's own label) and
    error kind: a retry storm shows here before any account notices."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountFailures(next)
