"""The Grafana dashboard (deploy/grafana/arrears.json) is built on metric names we export: a
renamed metric breaks this test, not a panel nobody looks at until the night it matters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from activities.metrics import DESCRIPTIONS
from api.metrics import ApiMetrics, BookCollector

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "arrears.json"


def exported_names(database_url: str) -> set[str]:
    api = ApiMetrics()
    api.requests.labels("GET", "/", "200").inc()
    api.latency.labels("GET", "/").observe(0.1)
    names = {s.name for m in api.registry.collect() for s in m.samples}
    book = CollectorRegistry(auto_describe=False)
    book.register(BookCollector(database_url, datetime(2026, 12, 1, tzinfo=UTC)))
    names |= {m.name for m in book.collect()}
    return names | set(DESCRIPTIONS)


def test_every_arrears_metric_the_dashboard_queries_is_exported(database_url: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 20
    used = {name for q in queries for name in re.findall(r"\barrears_[a-z_]+", q)}
    exported = exported_names(database_url)
    assert used - exported == set(), f"queried but never exported: {used - exported}"
    assert {"arrears_contacts_total", "arrears_payments_applied_total"} <= used
    assert any("temporal_" in q for q in queries), "the SDK's worker metrics have panels too"
