"""The fault-injection suite's cluster: real processes on loopback, shared by the suite.

- a Temporal dev server persisted to a file (so it can be stopped and started again),
- PostgreSQL (127.0.0.1:5432, database `test`, as CI has it) in a schema of this run, reached
  through a proxy the tests can cut,
- the sandbox SMS/voice gateway,
- two `arrears worker` and two `arrears api` processes.

Every child is stopped by its own pid at the end; the schema is dropped.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from core.settings import SANDBOX_ACCOUNT_SID
from domain.calendar import local_date
from tests.faults.proxy import CuttableProxy, cuttable_proxy
from tests.processes import Process, Processes, base_env, free_port, http_ok, processes, wait_for
from tests.workflows.helpers import account_json

PG = os.environ.get("ARREARS_FAULTS_PG", "postgresql://postgres@127.0.0.1:5432/test")
LOAN_SYSTEM = {"Authorization": "Bearer demo-loan-system"}


def _pg_reachable() -> bool:
    try:
        psycopg.connect(PG, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@dataclass
class Cluster:
    group: Processes
    temporal: Process
    temporal_port: int
    temporal_db: Path
    workers: list[Process]
    worker_health: list[int]
    apis: list[Process]
    api_urls: list[str]
    sandbox_url: str
    schema: str
    proxy: CuttableProxy
    token: str

    # --- processes ------------------------------------------------------------------------

    def wait_workers_ready(self, timeout: float = 90) -> None:
        for process, port in zip(self.workers, self.worker_health, strict=True):

            def ready(process: Process = process, port: int = port) -> bool:
                process.check()
                return http_ok(f"http://127.0.0.1:{port}/health/ready")

            wait_for(ready, f"{process.name} ready", timeout, step=0.5)

    def wait_apis_ready(self, timeout: float = 60) -> None:
        for process, url in zip(self.apis, self.api_urls, strict=True):

            def ready(process: Process = process, url: str = url) -> bool:
                process.check()
                return http_ok(f"{url}/health/ready")

            wait_for(ready, f"{process.name} ready", timeout, step=0.3)

    def restart_temporal(self) -> None:
        self.temporal.stop(timeout=30)
        self.temporal.start()
        self.group.wait_temporal(self.temporal, f"127.0.0.1:{self.temporal_port}")

    # --- the store --------------------------------------------------------------------------

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Straight to PostgreSQL (not through the proxy), in this run's schema."""
        with psycopg.connect(PG, options=f"-csearch_path={self.schema}") as connection:
            return connection.execute(query, params).fetchall()

    # --- the sandbox gateway ----------------------------------------------------------------

    def sandbox_auth(self) -> dict[str, str]:
        secret = base64.b64encode(f"{SANDBOX_ACCOUNT_SID}:{self.token}".encode()).decode()
        return {"Authorization": f"Basic {secret}"}

    def outbox(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.sandbox_url}/sandbox/outbox", headers=self.sandbox_auth(), timeout=10
        )
        response.raise_for_status()
        outbox: dict[str, Any] = response.json()
        return outbox


def tz_now_in_afternoon_slot(now: datetime) -> str:
    """An IANA zone whose local time now is 14:00-15:00, inside the strategy's preferred slot
    14:00-16:30 and every window: a due date of tomorrow there makes the pre-due SMS due now.
    The dev server runs on the real clock, so the zone follows the clock, not the other way."""
    offset = 14 - now.astimezone(UTC).hour  # -9 .. +14
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def account(
    loan_id: str, due: date, phone: str, tz: str, amount: str = "100000.00"
) -> dict[str, Any]:
    data = account_json(loan_id, due, amounts=(amount,))
    data["borrower"]["timezone"] = tz
    data["borrower"]["phones"] = [{"kind": "mobile", "number": phone}]
    return data


def local_today(tz: str) -> date:
    return local_date(datetime.now(UTC), tz)


def quiet_due(tz: str = "Asia/Shanghai") -> date:
    """A due date far enough ahead that an episode does nothing on its own during the suite."""
    return local_today(tz) + timedelta(days=10)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory, policy_dir: Path) -> Iterator[Cluster]:
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"the fault suite needs PostgreSQL at {PG}")
        pytest.skip(f"PostgreSQL is not reachable at {PG}")
    workdir = tmp_path_factory.mktemp("faults")
    schema = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    token = os.environ["ARREARS_SANDBOX_AUTH_TOKEN"]
    try:
        with cuttable_proxy("127.0.0.1", 5432) as proxy:
            url = (
                f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
                f"?application_name={schema}&options=-csearch_path%3D{schema}"
            )
            from store.engine import get_engine
            from store.migrate import upgrade

            upgrade(url)
            get_engine(url).dispose()
            temporal_port, sandbox_port = free_port(), free_port()
            api_ports = [free_port(), free_port()]
            health = [free_port(), free_port()]
            api_urls = [f"http://127.0.0.1:{port}" for port in api_ports]
            env = base_env(
                {
                    "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                    "DATABASE_URL": url,
                    "ARREARS_TASK_QUEUE": "faults",
                    "ARREARS_WORKER_VERSIONING": "false",
                    "ARREARS_WORKER_SHUTDOWN_GRACE": "5",
                    "ARREARS_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
                    "ARREARS_PUBLIC_URL": api_urls[0],
                    "ARREARS_DATA_DIR": str(workdir / "data"),
                }
            )
            with processes(workdir, env) as group:
                temporal_db = workdir / "temporal.db"
                temporal = group.temporal(temporal_port, temporal_db)
                group.sandbox("sandbox", sandbox_port)
                workers = [group.worker(f"worker-{i}", health[i]) for i in range(2)]
                apis = [group.api(f"api-{i}", api_ports[i]) for i in range(2)]
                found = Cluster(
                    group=group,
                    temporal=temporal,
                    temporal_port=temporal_port,
                    temporal_db=temporal_db,
                    workers=workers,
                    worker_health=health,
                    apis=apis,
                    api_urls=api_urls,
                    sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                    schema=schema,
                    proxy=proxy,
                    token=token,
                )
                wait_for(lambda: http_ok(f"{found.sandbox_url}/health"), "the sandbox gateway", 60)
                found.wait_apis_ready()
                found.wait_workers_ready()
                yield found
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (schema,),
            )
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
