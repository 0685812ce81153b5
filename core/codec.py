"""Encryption of every Temporal payload (DESIGN.md, "PII stays protected").

Workflow inputs, state, signals, updates and activity arguments carry borrower names, phones,
addresses and amounts. Temporal stores them for the life of the history and shows them to anyone
who can read the namespace, so every payload leaves our processes encrypted with AES-256-GCM and
is decrypted only by processes holding the key (workers, the API, `arrears replay`, the codec
endpoint for auditors).

Wire format of an encrypted payload (the convention of Temporal's encryption samples):

    metadata["encoding"]          = b"binary/encrypted"
    metadata["encryption-key-id"] = the key id (ASCII)
    data                          = 12-byte nonce || AES-GCM(ciphertext || 16-byte tag)
                                    of the original Payload protobuf (metadata and data)

Keys come from ARREARS_PAYLOAD_KEY: comma-separated entries `[key_id:]base64(32 bytes)`. The first
entry encrypts; every entry decrypts. Rotation is therefore: put the new key first and keep the
old ones after it until no history encrypted with them is still needed. A key without an explicit
id gets its fingerprint (`k` + the first 12 hex digits of its SHA-256) as id, so the same key
always has the same id on every machine without anyone naming it.

A payload that none of our keys sealed is never decoded into a value. Anyone who reaches the
Temporal frontend or its Web UI can send a signal with a plain JSON payload (say, a `payment`),
or one that claims our encoding with a made-up key or a broken tag; if `decode` passed it through,
it would be applied to the account, and if `decode` raised, the workflow task would fail on it at
every attempt and the account would be frozen for good. So `decode` turns it into a *refused*
payload (`binary/arrears-refused`, with the reason in its metadata), which the payload converter
(`core.temporal`) refuses to turn into a value: the SDK drops a signal whose input cannot be
converted (logging the reason), rejects such an update, and fails such a query, while the
workflow goes on. Consequence for key rotation: every process must hold a key before any process
encrypts with it (add the new key *second* everywhere, then move it first; docs/security.md).

Search attributes, workflow ids and the failure *type* are never encrypted by a codec; failure
messages and stack traces are, through the failure converter in `core.temporal`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
REFUSED = b"binary/arrears-refused"
REFUSED_REASON = "arrears-refused-reason"
NONCE_BYTES = 12
KEY_BYTES = 32


class PayloadKeyError(ValueError):
    """The key configuration is unusable."""


class RefusedPayload(ValueError):
    """A payload that none of this process's keys sealed: it is never turned into a value."""


def refused(reason: str) -> Payload:
    """The stand-in `decode` returns for a payload it will not open (see the module docstring)."""
    return Payload(metadata={"encoding": REFUSED, REFUSED_REASON: reason.encode()})


def refusal_reason(payload: Payload) -> str | None:
    """Why a decoded payload was refused, or None for one that was ours."""
    if payload.metadata.get("encoding") != REFUSED:
        return None
    return payload.metadata.get(REFUSED_REASON, b"").decode(errors="replace")


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    secret: bytes


def fingerprint(secret: bytes) -> str:
    """A stable, non-secret id for a key (a truncated SHA-256 reveals nothing usable)."""
    return "k" + hashlib.sha256(secret).hexdigest()[:12]


def parse_keys(spec: str) -> list[PayloadKey]:
    """ARREARS_PAYLOAD_KEY → keys, the encrypting one first. Errors name the entry's position,
    never its content (it is a secret)."""
    keys: list[PayloadKey] = []
    entries = [part.strip() for part in spec.split(",") if part.strip()]
    if not entries:
        raise PayloadKeyError("ARREARS_PAYLOAD_KEY is empty: set at least one base64 32-byte key")
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.rpartition(":")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadKeyError(
                f"ARREARS_PAYLOAD_KEY entry {position} is not base64 (expected [key_id:]base64)"
            ) from None
        if len(secret) != KEY_BYTES:
            raise PayloadKeyError(
                f"ARREARS_PAYLOAD_KEY entry {position} is {len(secret)} bytes; AES-256 needs 32"
            )
        keys.append(PayloadKey(key_id if sep and key_id else fingerprint(secret), secret))
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise PayloadKeyError("ARREARS_PAYLOAD_KEY names the same key id twice")
    return keys


def new_key() -> str:
    """A fresh random key in the ARREARS_PAYLOAD_KEY format (for operators rotating keys)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def new_key_entry() -> str:
    """A fresh key as an ARREARS_PAYLOAD_KEY entry with its id spelled out (`k…:base64`), so
    the id an operator sees in a payload's metadata can be matched to the entry by eye."""
    key = new_key()
    return f"{fingerprint(base64.b64decode(key))}:{key}"


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class DevKeyRefused(PayloadKeyError):
    """The public dev key would encrypt real borrowers' data on a shared Temporal."""


def is_local_address(address: str) -> bool:
    """A Temporal frontend on this machine (`host:port`): the embedded stack, the tests."""
    host = address.rpartition(":")[0] or address
    host = host.strip("[]").lower()
    return host in LOCAL_HOSTS or host.startswith("127.")


def encrypts_with_dev_key(spec: str, dev_key: str) -> bool:
    """Whether the key that encrypts (the first entry) is the published dev key."""
    return parse_keys(spec)[0].secret == base64.b64decode(dev_key)


def check_dev_key(spec: str, temporal_address: str, *, allowed: bool, dev_key: str) -> str | None:
    """Refuse to start a worker or API that would encrypt with the public dev key against a
    Temporal that is not on this machine: everyone can read that key (it is in the source), so
    the histories would hold borrowers' data as good as in clear. ARREARS_ALLOW_DEV_KEY=1 turns
    the refusal into a warning (a staging cluster with synthetic data). Returns the warning to
    log, or None when the configuration is fine."""
    if not encrypts_with_dev_key(spec, dev_key) or is_local_address(temporal_address):
        return None
    message = (
        f"ARREARS_PAYLOAD_KEY encrypts with the public dev key while TEMPORAL_ADDRESS is "
        f"{temporal_address}, not this machine: borrower data in Temporal would be readable by "
        "anyone. Set ARREARS_PAYLOAD_KEY (`arrears keys new` makes one)"
    )
    if not allowed:
        raise DevKeyRefused(f"{message}, or ARREARS_ALLOW_DEV_KEY=1 for synthetic data only.")
    return f"{message}; running anyway because ARREARS_ALLOW_DEV_KEY is set."


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads; the first key encrypts, all keys decrypt."""

    def __init__(self, keys: Sequence[PayloadKey], *, for_audit: bool = False) -> None:
        """`for_audit`: the codec of the auditors' tools (history export, replay, the Web UI's
        codec endpoint), which show what a history holds: a payload in clear as it is (a
        decrypted export; `audit.export.refuse_unsealed_signals` marks forged signals first),
        and a key this process lacks as a PayloadKeyError naming it, instead of the refused
        stand-ins workers decide on."""
        if not keys:
            raise PayloadKeyError("an encryption codec needs at least one key")
        self._active = keys[0]
        self._ciphers: Mapping[str, AESGCM] = {k.key_id: AESGCM(k.secret) for k in keys}
        self._for_audit = for_audit

    @classmethod
    def from_spec(cls, spec: str, *, for_audit: bool = False) -> EncryptionCodec:
        return cls(parse_keys(spec), for_audit=for_audit)

    @property
    def active_key_id(self) -> str:
        return self._active.key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active.key_id].encrypt(
            nonce, payload.SerializeToString(), None
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._active.key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The sealed payload, or a refused stand-in for one no key of ours sealed: never an
        exception, so a forged payload cannot fail every workflow task that meets it."""
        if payload.metadata.get("encoding") != ENCODING:
            if self._for_audit:
                return payload
            return refused(
                "not encrypted with an ARREARS_PAYLOAD_KEY: forged, or sent by a tool outside "
                "arrears (the Temporal CLI or Web UI)"
            )
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return self._refuse(
                f"encrypted with key {key_id!r}, which is not in ARREARS_PAYLOAD_KEY "
                f"(this process holds: {', '.join(self._ciphers)})"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            # Refused in every mode: a forger who copied our key id must not break the
            # auditors' exports either.
            return refused(
                f"payload with key id {key_id!r} does not decrypt: altered, or a different key "
                "was configured under that id"
            )
        return Payload.FromString(plain)

    def _refuse(self, reason: str) -> Payload:
        if self._for_audit:
            raise PayloadKeyError(reason)
        return refused(reason)
