"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

from api.auth import FailedAttempts, KeyRing
from api.desk.account import router as desk_account_router
from api.desk.audit_pages import router as desk_audit_router
from api.desk.borrower import router as desk_borrower_router
from api.desk.cases import router as desk_cases_router
from api.desk.clock import router as desk_clock_router
from api.desk.dashboard import router as desk_dashboard_router
from api.desk.oidc import router as desk_oidc_router
from api.desk.team import router as desk_team_router
from api.desk.views import router as desk_router
from api.desk.views import static as desk_static
from api.errors import BodyLimitMiddleware, install_error_handlers
from api.guards import JsonGuardMiddleware
from api.metrics import ApiMetrics, ObservabilityMiddleware
from api.metrics import router as metrics_router
from api.openapi import document_errors
from api.routes.account_search import router as account_search_router
from api.routes.accounts import router as accounts_router
from api.routes.agencies import router as agencies_router
from api.routes.audit import router as audit_router
from api.routes.batch import router as batch_router
from api.routes.borrowers import router as borrowers_router
from api.routes.branches import router as branches_router
from api.routes.cases import router as cases_router
from api.routes.clock import router as clock_router
from api.routes.codec import router as codec_router
from api.routes.compliance import router as compliance_router
from api.routes.escalation import router as escalation_router
from api.routes.events import router as events_router
from api.routes.health import router as health_router
from api.routes.holds import router as holds_router
from api.routes.letters import router as letters_router
from api.routes.messages import router as messages_router
from api.routes.notes import router as notes_router
from api.routes.reports import router as reports_router
from api.routes.sandbox import router as sandbox_router
from api.routes.tasks import router as tasks_router
from api.routes.webhooks import router as webhooks_router
from api.state import Clock, TemporalHandle, app_clock
from core.settings import Settings, get_settings
from core.tracing import tracer_of, tracer_provider

DESCRIPTION = """\
Collections orchestration for consumer lenders. Every delinquent loan account runs as one
long-lived Temporal workflow that follows the collections playbook. Authenticate with
`Authorization: Bearer <key>`; money is a decimal string, dates ISO 8601.
"""


def create_app(
    settings: Settings | None = None,
    client: Client | None = None,
    clock: Clock | None = None,
    traces: TracerProvider | None = None,
) -> FastAPI:
    """Build the app; tests pass their own settings, an already connected client and, to watch
    the spans, their own tracer provider (else OTEL_EXPORTER_OTLP_ENDPOINT decides)."""
    settings = settings or get_settings()
    traces = traces or tracer_provider(settings, "arrears-api")
    app = FastAPI(title="arrears", version="1", description=DESCRIPTION)
    app.state.settings = settings
    app.state.keyring = KeyRing(settings.api_keys_spec)
    app.state.failed_keys = FailedAttempts()
    app.state.temporal = TemporalHandle(settings, client, tracer_of(traces))
    app.state.clock = app_clock(settings, app.state.temporal, clock)
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    app.add_middleware(JsonGuardMiddleware)  # inside the size limit: reads bounded bodies only
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(ObservabilityMiddleware)  # outermost: the id is set before anything logs
    if traces is not None:
        instrument(app, settings, traces)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(batch_router)
    app.include_router(account_search_router)
    app.include_router(borrowers_router)
    app.include_router(accounts_router)
    app.include_router(audit_router)
    app.include_router(codec_router)
    app.include_router(holds_router)
    app.include_router(cases_router)
    app.include_router(messages_router)
    app.include_router(notes_router)
    app.include_router(compliance_router)
    app.include_router(letters_router)
    app.include_router(branches_router)
    app.include_router(tasks_router)
    app.include_router(agencies_router)
    app.include_router(escalation_router)
    app.include_router(reports_router)
    app.include_router(sandbox_router)
    app.include_router(clock_router)
    app.include_router(webhooks_router)
    app.include_router(events_router)
    app.include_router(desk_router)
    app.include_router(desk_account_router)
    app.include_router(desk_team_router)
    app.include_router(desk_cases_router)
    app.include_router(desk_dashboard_router)
    app.include_router(desk_audit_router)
    app.include_router(desk_borrower_router)
    app.include_router(desk_clock_router)
    app.include_router(desk_oidc_router)
    app.mount("/desk/static", desk_static, name="desk-static")
    document_errors(app)
    return app


def instrument(app: FastAPI, settings: Settings, traces: TracerProvider) -> None:
    """FastAPI's request spans and SQLAlchemy's query spans on this app's store engine."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    from store.engine import get_engine
    from store.tracing import trace_engine

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=traces, excluded_urls="/metrics,/health"
    )
    trace_engine(get_engine(settings.effective_database_url), traces)
