"""The desk's staff: Argon2id password hashes (argon2-cffi's recommended parameters, RFC 9106),
adding users (`arrears users add`), the demo users `arrears up` creates beside the demo API keys,
and checking a password at sign-in in the same time whether or not the user exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.auth import Role
from store.staff import USERNAME_LENGTH, StaffUserRow, get_user, put_user

STAFF_ROLES = (Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR, Role.ANTI_FRAUD, Role.LEGAL)
"""Who signs in to the desk: the API's roles but the loan system (a system, not a person)."""

MIN_PASSWORD = 8

DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("alice", Role.COLLECTOR, "demo-alice"),
    ("bob", Role.COLLECTOR, "demo-bob"),
    ("carol", Role.SUPERVISOR, "demo-carol"),
    ("dave", Role.AUDITOR, "demo-dave"),
    ("erin", Role.ANTI_FRAUD, "demo-erin"),
    ("frank", Role.LEGAL, "demo-frank"),
)
"""The demo API keys' people, with public passwords: created only by the demo stack."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("arrears-desk-no-such-user")


class UserError(ValueError):
    """A user that cannot be added as asked (the message says why)."""


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: Role
    locale: str | None


def check_new_user(username: str, role: str, password: str) -> Role:
    if not username or len(username) > USERNAME_LENGTH or not username.isprintable():
        raise UserError(f"the user name must be 1 to {USERNAME_LENGTH} printable characters")
    if any(c.isspace() or c in ",:" for c in username):
        raise UserError("the user name may not hold spaces, ',' or ':' (API key users cannot)")
    try:
        checked = Role(role)
    except ValueError:
        checked = None
    if checked not in STAFF_ROLES:
        names = ", ".join(r.value for r in STAFF_ROLES)
        raise UserError(f"the role must be one of {names}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    assert checked is not None
    return checked


def add_user(url: str, username: str, role: str, password: str, at: datetime) -> None:
    """Create the user, or give an existing one this role and password."""
    checked = check_new_user(username, role, password)
    put_user(
        url,
        StaffUserRow(
            username=username,
            role=checked.value,
            password_hash=_hasher.hash(password),
            created_at=at,
        ),
    )


def add_demo_users(url: str, at: datetime) -> list[tuple[str, Role, str]]:
    """The demo users (only those not there yet: a changed password is left alone)."""
    added = []
    for username, role, password in DEMO_USERS:
        if get_user(url, username) is None:
            add_user(url, username, role.value, password, at)
        added.append((username, role, password))
    return added


def authenticate(url: str, username: str, password: str) -> StaffUser | None:
    """The user if the password is theirs; an unknown user costs one hash too (no timing hint)."""
    row = get_user(url, username) if 0 < len(username) <= USERNAME_LENGTH else None
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    return StaffUser(row.username, Role(row.role), row.locale)


def load_user(url: str, username: str) -> StaffUser | None:
    """The signed-in person as stored now: disabling a user or changing a role takes effect."""
    row = get_user(url, username)
    if row is None or row.disabled:
        return None
    return StaffUser(row.username, Role(row.role), row.locale)
