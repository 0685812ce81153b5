"""Real processes for the tests that need them (worker operations, the fault suite): a Temporal dev
server that can be stopped and started again on its database, `arrears worker`, `arrears api` and
`arrears sandbox`, each with its own log file, each stopped (or killed) by its own pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from arrears.preflight import temporal_reachable
from core.temporal import SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], what: str, timeout: float, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(step)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Process:
    """One child process with its log; `stop()` sends SIGTERM, `kill()` SIGKILL, both by pid."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        assert self.popen is None or self.popen.poll() is not None, f"{self.name} is running"
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own binaries
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-3000:]}"
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.running and self.popen is not None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self, timeout: float = 30) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


@dataclass
class Processes:
    """Everything a test started, stopped in reverse order at the end (also on failure)."""

    workdir: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def spawn(
        self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None
    ) -> Process:
        process = Process(
            name,
            argv,
            {**self.env, **(extra_env or {})},
            self.workdir / f"{name}.log",
            self.workdir,
        )
        self.started.append(process)
        return process.start()

    def temporal(self, port: int, db_file: Path | None = None) -> Process:
        """`temporal server start-dev` (persisted to db_file when given), ready when it returns."""
        argv = [str(BIN / "temporal"), "server", "start-dev", "--ip", "127.0.0.1"]
        argv += ["--port", str(port), "--headless", "--log-level", "error"]
        if db_file is not None:
            argv += ["--db-filename", str(db_file)]
        for name, kind in SEARCH_ATTRIBUTES.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        process = self.spawn(f"temporal-{port}", argv)
        self.wait_temporal(process, f"127.0.0.1:{port}")
        return process

    @staticmethod
    def wait_temporal(process: Process, address: str, timeout: float = 60) -> None:
        def up() -> bool:
            process.check()
            return temporal_reachable(address, timeout=1)

        wait_for(up, f"the Temporal dev server at {address}", timeout)

    def worker(
        self, name: str, health_port: int, extra: Mapping[str, str] | None = None
    ) -> Process:
        env = {"ARREARS_WORKER_HEALTH_PORT": str(health_port), **(extra or {})}
        return self.spawn(name, [str(BIN / "arrears"), "worker"], env)

    def api(self, name: str, port: int) -> Process:
        argv = [str(BIN / "arrears"), "api", "--host", "127.0.0.1", "--port", str(port)]
        return self.spawn(name, argv)

    def sandbox(self, name: str, port: int) -> Process:
        argv = [str(BIN / "arrears"), "sandbox", "--host", "127.0.0.1", "--port", str(port)]
        return self.spawn(name, argv)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            with contextlib.suppress(Exception):
                process.stop(timeout=20)


@contextlib.contextmanager
def processes(workdir: Path, env: Mapping[str, str]) -> Iterator[Processes]:
    group = Processes(workdir, dict(env))
    try:
        yield group
    finally:
        group.stop_all()


def base_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without anything that would point a child elsewhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "TWILIO_", "ARREARS_", "DATABASE_URL"))
        or key in ("ARREARS_POLICY_DIR", "ARREARS_SANDBOX_AUTH_TOKEN")
    }
    env.update(overrides)
    return env
