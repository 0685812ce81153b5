"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from temporalio.client import Client

from api.accounts import router as accounts_router
from api.agencies import router as agencies_router
from api.audit import router as audit_router
from api.auth import KeyRing
from api.branches import router as branches_router
from api.deps import Clock, TemporalHandle, system_clock
from api.errors import install_error_handlers
from api.health import router as health_router
from api.holds import router as holds_router
from api.sandbox import router as sandbox_router
from api.tasks import router as tasks_router
from api.webhooks import router as webhooks_router
from arrears.settings import Settings, get_settings

DESCRIPTION = """\
Collections orchestration for consumer lenders. Every delinquent loan account runs as one
long-lived Temporal workflow that follows the collections playbook. Authenticate with
`Authorization: Bearer <key>`; money is a decimal string, dates ISO 8601.
"""


def create_app(
    settings: Settings | None = None, client: Client | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app; tests pass their own settings and an already connected client."""
    settings = settings or get_settings()
    app = FastAPI(title="arrears", version="1", description=DESCRIPTION)
    app.state.settings = settings
    app.state.keyring = KeyRing(settings.api_keys)
    app.state.temporal = TemporalHandle(settings, client)
    app.state.clock = clock or system_clock
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(accounts_router)
    app.include_router(audit_router)
    app.include_router(holds_router)
    app.include_router(branches_router)
    app.include_router(tasks_router)
    app.include_router(agencies_router)
    app.include_router(sandbox_router)
    app.include_router(webhooks_router)
    return app
