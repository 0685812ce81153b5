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
import math
import time
from collections import OrderedDict, deque
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
    ANTI_FRAUD = "anti-fraud"
    LEGAL = "legal"


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


class FailedAttempts:
    """Unknown API keys per client, in a sliding window: past `limit` failures within `window`
    seconds the client is refused (429, Retry-After) until the oldest failure ages out, so keys
    cannot be guessed at the speed of the network. In-process and bounded: at most `capacity`
    clients are remembered, the least recently failing forgotten first (each replica counts
    its own callers; a proxy in front should pass the caller's address through)."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.capacity, self._clock = limit, window, capacity, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again; None while it may."""
        failures = self._recent(client)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self._clock()))

    def failed(self, client: str) -> None:
        failures = self._recent(client) or deque(maxlen=self.limit)
        failures.append(self._clock())
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_attempts(request: Request) -> None:
    """429 while the caller's recent unknown keys are over the limit, whatever key it sends."""
    limiter: FailedAttempts = request.app.state.failed_keys
    wait = limiter.retry_after(client_of(request))
    if wait is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            f"Too many unknown API keys from this client; try again in {wait} s.",
            {"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )


def identify_key(request: Request, key: str) -> Principal | None:
    """The key's principal, after the attempt limit; an unknown key counts against the caller."""
    check_attempts(request)
    keyring: KeyRing = request.app.state.keyring
    principal = keyring.identify(key.strip())
    if principal is None:
        limiter: FailedAttempts = request.app.state.failed_keys
        limiter.failed(client_of(request))
    return principal


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthenticated", "Send an API key as 'Authorization: Bearer <key>'.")
    principal = identify_key(request, key)
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


ANY_ROLE = (
    Role.LOAN_SYSTEM,
    Role.COLLECTOR,
    Role.SUPERVISOR,
    Role.AUDITOR,
    Role.ANTI_FRAUD,
    Role.LEGAL,
)
