"""SQLAlchemy's query spans on one engine (issue 18 item 2): engines are made once per database
URL (store/engine.py), so they are instrumented one by one, by whoever set tracing up."""

from __future__ import annotations

from weakref import WeakSet

from opentelemetry.metrics import NoOpMeter
from opentelemetry.trace import TracerProvider
from sqlalchemy.engine import Engine

_traced: WeakSet[Engine] = WeakSet()


def trace_engine(engine: Engine, provider: TracerProvider) -> None:
    """Spans for every statement `engine` runs; a second call for the same engine does nothing."""
    if engine in _traced:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = NoOpMeter("arrears").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, usage)
    _traced.add(engine)
