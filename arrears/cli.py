"""The `arrears` command (CONTRACT.md, "Processes and configuration")."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import typer
from rich.console import Console

from arrears.preflight import PreflightError, require_free_port, temporal_reachable
from core.codec import DevKeyRefused
from core.settings import Settings, get_settings

app = typer.Typer(
    help="arrears: collections orchestration on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _logging() -> None:
    """JSON lines (or text, ARREARS_LOG_FORMAT), masked, with correlation ids (core/logs.py):
    phone numbers and borrower names never reach a log line."""
    from core.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _require_virtual_clock(settings: Settings) -> None:
    """ARREARS_CLOCK=server only against the time-skipping test server: refuse to start, in one
    line, against any other Temporal (its clock is real and cannot be moved)."""
    if not settings.virtual_time:
        return
    from core.clock import NotTimeSkipping, require_time_skipping
    from core.temporal import connect

    if not temporal_reachable(settings.temporal_address, timeout=3):
        _fail(
            f"ARREARS_CLOCK=server but Temporal is not reachable at {settings.temporal_address}: "
            "start the time-skipping test server (`arrears up --virtual-time`)"
        )

    async def check() -> None:
        await require_time_skipping(await connect(settings))

    try:
        asyncio.run(check())
    except NotTimeSkipping as exc:
        _fail(
            f"ARREARS_CLOCK=server needs Temporal's time-skipping test server: {exc}; run "
            "`arrears up --virtual-time`, or unset ARREARS_CLOCK for real time"
        )


@app.command()
def up(
    virtual_time: bool = typer.Option(
        False,
        "--virtual-time",
        help="run on the time-skipping test server with a virtual clock a supervisor advances "
        "(POST /v1/sandbox/clock/advance); in memory: nothing persists across restarts",
    ),
) -> None:
    """Run the whole stack on this machine: Temporal dev server, worker, API."""
    from arrears.stack import run_stack

    try:
        run_stack(get_settings(), console, virtual_time=virtual_time)
    except PreflightError as exc:
        _fail(str(exc))


@app.command()
def worker() -> None:
    """Run one worker process."""
    from core.temporal import refuse_public_key
    from core.temporal_target import TemporalConfigError
    from worker.main import run_worker

    settings = get_settings()
    try:
        target = refuse_public_key(settings)
    except (DevKeyRefused, TemporalConfigError) as exc:
        _fail(str(exc))
    if not temporal_reachable(target.address, timeout=3):
        _fail(
            f"Temporal is not reachable at {target.address}: start it "
            "(`arrears up`) or set TEMPORAL_ADDRESS (or TEMPORAL_PROFILE)"
        )
    _require_virtual_clock(settings)
    _logging()
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        _fail(f"the worker stopped: {exc}")
    except DevKeyRefused as exc:
        _fail(str(exc))


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Run the HTTP API."""
    import uvicorn

    try:
        require_free_port(host, port, "arrears API")
    except PreflightError as exc:
        _fail(str(exc))
    from api.app import create_app
    from core.temporal import refuse_public_key
    from core.temporal_target import TemporalConfigError

    try:
        refuse_public_key(get_settings())
    except (DevKeyRefused, TemporalConfigError) as exc:
        _fail(str(exc))
    _logging()
    _require_virtual_clock(get_settings())
    # log_config=None: uvicorn's loggers (access lines included) go through our masked handler
    uvicorn.run(create_app(), host=host, port=port, log_level="info", log_config=None)


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(0, help="port to listen on [default: the one of ARREARS_SANDBOX_URL]"),
) -> None:
    """Run the sandbox SMS/voice gateway alone (Twilio's REST subset; used without TWILIO_*)."""
    from urllib.parse import urlsplit

    import uvicorn

    settings = get_settings()
    port = port or urlsplit(settings.sandbox_url).port or 8010
    try:
        require_free_port(host, port, "sandbox gateway")
    except PreflightError as exc:
        _fail(str(exc))
    from sandbox.app import GatewayConfig, create_gateway_app

    gateway = create_gateway_app(GatewayConfig.from_settings(settings))
    _logging()
    # No access log: the gateway's paths are the borrowers' numbers' business, not ours.
    uvicorn.run(gateway, host=host, port=port, log_level="info", access_log=False, log_config=None)


@app.command("deliver-events")
def deliver_events(
    check: bool = typer.Option(
        False,
        "--check",
        help="Exit 0 if a delivery process reached its store within the last minute, else 1 "
        "(the container health check).",
    ),
) -> None:
    """Deliver the event log to the loan system's webhook (ARREARS_LOAN_SYSTEM_WEBHOOK_URL),
    signed with ARREARS_WEBHOOK_SECRET, in order per loan, retried until accepted. Run one."""
    import httpx

    from activities.event_delivery import HEARTBEAT_FILE, EventDelivery, heartbeat_is_fresh

    settings = get_settings()
    heartbeat = settings.data_dir / HEARTBEAT_FILE
    if check:
        raise typer.Exit(0 if heartbeat_is_fresh(heartbeat) else 1)
    url, secret = settings.loan_system_webhook_url, settings.webhook_secret_value
    if not url or not secret:
        _fail(
            "set ARREARS_LOAN_SYSTEM_WEBHOOK_URL (where events go) and ARREARS_WEBHOOK_SECRET "
            "(what signs them) to deliver events; `arrears up` sets both for its sandbox"
        )
        return
    _logging()
    heartbeat.parent.mkdir(parents=True, exist_ok=True)

    async def deliver() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as http:
            delivery = EventDelivery(settings.effective_database_url, url, secret, http)
            await delivery.run(stop, heartbeat=heartbeat)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(deliver())


@app.command()
def migrate() -> None:
    """Apply the store's database migrations (idempotent)."""
    from store.migrate import upgrade

    settings = get_settings()
    try:
        upgrade(settings.effective_database_url)
    except Exception as exc:  # one line, not a traceback, for an unreachable database
        _fail(
            f"could not migrate {settings.effective_database_url}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        )
    console.print("store is at the newest schema")


# Audit: `arrears history`, `arrears replay`, `arrears timeline` (issue 8), and PII-masked logs
# for every command.
from arrears.audit_cli import register as _register_audit  # noqa: E402

_register_audit(app)

# The agency registry: `arrears agencies add`, `arrears agencies list`.
from arrears.agencies_cli import register as _register_agencies  # noqa: E402

_register_agencies(app)

from arrears.simulate_cli import register as _register_simulate  # noqa: E402

_register_simulate(app)

# The scoreboard: `arrears report`.
from arrears.dev_cli import register as _register_dev  # noqa: E402
from arrears.report_cli import register as _register_report  # noqa: E402

_register_report(app)
_register_dev(app)

# The desk's staff: `arrears users add NAME --role ROLE`, `arrears users list`.
from arrears.users_cli import register as _register_users  # noqa: E402

_register_users(app)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
