"""The API's own observability: a correlation id per request, request metrics, and `GET /metrics`
(CONTRACT.md v1.1: Prometheus text, no credentials; issue 18 items 1 and 3).

- Every request gets a correlation id, the caller's `X-Request-ID` if it is a plausible id, else
  a fresh one; it is answered in `X-Request-ID`, logged with every line of the request and carried
  to the workflow and its activities (core/correlation.py).
- `arrears_http_requests_total{method,route,status}` and
  `arrears_http_request_duration_seconds{method,route}`: by route template
  (`/v1/accounts/{loan_id}`), never the raw path, so a loan id makes no new series and no query
  string reaches a label.
- At scrape time, the book from the store (store/metrics.py): `arrears_accounts{state,bucket}`,
  `arrears_tasks_open{kind}`, `arrears_tasks_overdue{kind}`,
  `arrears_loan_system_undelivered{kind}`, `arrears_loan_system_oldest_undelivered_seconds`.

The metrics carry no borrower data, and the Prometheus server scrapes without an API key, as the
contract says; keep the port off the public internet like every other scrape target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.correlation import REQUEST_ID_HEADER, accept_request_id, correlation_id
from store.metrics import book_figures

router = APIRouter(tags=["operations"])


class ApiMetrics:
    """One per app (tests build many apps): its registry and request metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "arrears_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "arrears_http_request_duration_seconds",
            "Time to answer, by route template",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )


class BookCollector(Collector):
    """The store's figures as gauges, read once per scrape."""

    def __init__(self, database_url: str, now: datetime) -> None:
        self._url, self._now = database_url, now

    def collect(self) -> Iterable[Metric]:
        figures = book_figures(self._url, self._now)
        lag = GaugeMetricFamily(
            "arrears_loan_system_oldest_undelivered_seconds",
            "Age of the oldest message for the loan system not yet delivered (0: none waiting)",
        )
        oldest = figures.oldest_undelivered
        lag.add_metric([], max(0.0, (self._now - oldest).total_seconds()) if oldest else 0.0)
        return [
            _gauge(
                "arrears_accounts",
                "Accounts by state and bucket",
                ["state", "bucket"],
                {(state, bucket): n for (state, bucket), n in figures.accounts.items()},
            ),
            _gauge(
                "arrears_tasks_open",
                "Tasks for people still open, by kind",
                ["kind"],
                {(kind,): n for kind, n in figures.tasks_open.items()},
            ),
            _gauge(
                "arrears_tasks_overdue",
                "Open tasks whose window has closed, by kind",
                ["kind"],
                {(kind,): n for kind, n in figures.tasks_overdue.items()},
            ),
            _gauge(
                "arrears_loan_system_undelivered",
                "Messages for the loan system recorded but not yet delivered, by kind",
                ["kind"],
                {(kind,): n for kind, n in figures.undelivered.items()},
            ),
            lag,
        ]


def _gauge(
    name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], int]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, count in sorted(values.items()):
        family.add_metric(list(key), count)
    return family


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class ObservabilityMiddleware:
    """Outermost: sets the correlation id before anything logs, answers it, and times the
    request whatever the inner layers answer (a 413 or 422 included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics: ApiMetrics = scope["app"].state.metrics
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.lower().encode())
        request_id = accept_request_id(incoming.decode("latin-1") if incoming else None)
        token = correlation_id.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route, method = _route_of(scope), str(scope.get("method", ""))
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            correlation_id.reset(token)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text: the API's request metrics, then the book read from the store now."""
    state: Any = request.app.state
    api_metrics: ApiMetrics = state.metrics
    now = await state.clock()
    book = CollectorRegistry(auto_describe=False)
    book.register(BookCollector(state.settings.effective_database_url, now))
    text = await asyncio.to_thread(
        lambda: generate_latest(api_metrics.registry) + generate_latest(book)
    )
    return Response(content=text, media_type=CONTENT_TYPE_LATEST)
