"""The worker's Prometheus endpoint and its activity failure counter (issue 18 item 1).

The Temporal SDK's Rust core serves Prometheus text on ARREARS_WORKER_METRICS_PORT through the
process's default runtime: the SDK's own `temporal_*` metrics (task slots, schedule-to-start
latency, poll results, sticky cache, activity and workflow task failures...) and the counters our
activities add through the SDK's activity meter (activities/metrics.py), so one scrape per worker
gets both. Unset, no runtime is installed and nothing listens.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.metrics import ACTIVITY_FAILURES, DESCRIPTIONS
from core.settings import Settings

# The SDK core's own log lines (Rust) go to this Python logger, hence through our masked JSON
# handler (core/logs.py), instead of straight to stderr in their own format.
CORE_LOGGER = "temporalio.core"


def metrics_runtime(bind_address: str | None) -> Runtime:
    """A runtime whose metrics are served as Prometheus text at `bind_address` (host:port; None:
    no metrics) and whose core log lines are forwarded to Python logging."""
    forwarded = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
    metrics = PrometheusConfig(bind_address=bind_address) if bind_address else None
    return Runtime(telemetry=TelemetryConfig(logging=forwarded, metrics=metrics))


def metrics_address(settings: Settings) -> str | None:
    """host:port of the worker's metrics endpoint; None without ARREARS_WORKER_METRICS_PORT."""
    if settings.worker_metrics_port is None:
        return None
    return f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"


def install_metrics_runtime(settings: Settings) -> str | None:
    """Make the worker's runtime this process's default, before any client connects (a client
    keeps the runtime it was made with). The metrics address served, or None when the port is
    unset (the runtime still forwards the core's log lines)."""
    address = metrics_address(settings)
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
