"""Helpers for the desk's tests: users in the test store, the CSRF token of a page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from api.desk.users import add_user

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_user(database_url: str, name: str, role: str) -> None:
    add_user(database_url, name, role, PASSWORD, datetime(2026, 12, 1, tzinfo=UTC))


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)
