"""API keys with roles (CONTRACT.md, "Authentication").

Keys come from ARREARS_API_KEYS as `key:role[:user]`, or hashed as `sha256=<hex digest>:role[:user]`
so the configuration (an env file, a compose file, a secret store) never holds a usable key:
`printf %s "$KEY" | sha256sum` gives the digest. Both forms may be mixed. Only SHA-256 digests are
kept in memory and compared in constant time, so a key never sits in a comparable form and timing
leaks nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Depends, Request

from api.errors import ApiError


class Role(StrEnum):
    LOAN_SYSTEM = "loan-system"
    COLLECTOR = "collector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role decides what they may do, the user is recorded on what they did."""

    role: Role
    user: str


@dataclass(frozen=True)
class _KeyEntry:
    digest: bytes
    principal: Principal


HASHED_PREFIX = "sha256="


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _configured_digest(spec: str) -> bytes:
    """The digest of a configured key: given as `sha256=<64 hex digits>`, or hashed here."""
    if not spec.startswith(HASHED_PREFIX):
        return _digest(spec)
    hexdigest = spec[len(HASHED_PREFIX) :]
    try:
        digest = bytes.fromhex(hexdigest)
    except ValueError:
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError(
            "ARREARS_API_KEYS entry has a sha256= key that is not 64 hexadecimal digits "
            "(the SHA-256 of the key, as `sha256sum` prints it)"
        )
    return digest


class KeyRing:
    """The configured API keys, held as digests."""

    def __init__(self, spec: str) -> None:
        self._entries: list[_KeyEntry] = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            fields = item.split(":")
            if len(fields) not in (2, 3) or not fields[0]:
                raise ValueError(f"ARREARS_API_KEYS entry {item!r} is not key:role[:user]")
            try:
                role = Role(fields[1])
            except ValueError:
                allowed = ", ".join(r.value for r in Role)
                raise ValueError(
                    f"ARREARS_API_KEYS entry has unknown role {fields[1]!r} (allowed: {allowed})"
                ) from None
            user = fields[2] if len(fields) == 3 and fields[2] else role.value
            self._entries.append(_KeyEntry(_configured_digest(fields[0]), Principal(role, user)))

    def staff(self) -> frozenset[str]:
        """The people the keys name: every user but the loan system's (a system, not staff)."""
        return frozenset(
            e.principal.user for e in self._entries if e.principal.role != Role.LOAN_SYSTEM
        )

    def identify(self, key: str) -> Principal | None:
        """Compare against every entry (no early exit) so the answer time says nothing."""
        candidate = _digest(key)
        found: Principal | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, candidate):
                found = entry.principal
        return found


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthenticated", "Send an API key as 'Authorization: Bearer <key>'.")
    keyring: KeyRing = request.app.state.keyring
    principal = keyring.identify(key.strip())
    if principal is None:
        raise ApiError(401, "unauthenticated", "The API key is not known.")
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only the given roles through (403 for the others)."""
    allowed: Iterable[Role] = roles

    def _check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(r.value for r in allowed)
            raise ApiError(
                403, "forbidden", f"Role {principal.role.value!r} may not do this (needs: {names})."
            )
        return principal

    return _check


ANY_ROLE = (Role.LOAN_SYSTEM, Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR)
