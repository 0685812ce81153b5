"""PII stays protected (DESIGN.md): every payload leaves the process AES-GCM encrypted under a
key id, rotation keeps old payloads readable, and a payload none of our keys sealed is refused
by workers (never turned into a value) while auditors' tools show it as it is."""

from __future__ import annotations

import base64

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from core.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
    RefusedPayload,
    fingerprint,
    parse_keys,
    refusal_reason,
)
from core.settings import DEV_PAYLOAD_KEY, Settings
from core.temporal import data_converter

BORROWER = {"name": "Wang Fang", "phone": "+8613800138000", "address": "1 Renmin Road"}
OLD_KEY = base64.b64encode(b"o" * 32).decode()
NEW_KEY = base64.b64encode(b"n" * 32).decode()


def _plain(value: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=value)


async def test_every_payload_is_encrypted_under_the_first_keys_id_and_decodes_back() -> None:
    converter = data_converter(Settings(ARREARS_PAYLOAD_KEY=NEW_KEY))
    [payload] = await converter.encode([BORROWER])
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == fingerprint(base64.b64decode(NEW_KEY)).encode()
    for secret in (b"Wang Fang", b"+8613800138000", b"Renmin"):
        assert secret not in payload.SerializeToString()
    assert await converter.decode([payload]) == [BORROWER]


async def test_the_same_value_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec.from_spec(NEW_KEY)
    first, second = await codec.encode([_plain(b'"x"'), _plain(b'"x"')])
    assert first.data != second.data  # a fresh nonce per payload: no equality leaks


async def test_a_payload_in_clear_is_refused_by_workers_and_shown_as_is_to_auditors() -> None:
    plain = _plain(b'{"payment_id": "X", "amount": "999.00"}')
    converter = data_converter(Settings(ARREARS_PAYLOAD_KEY=NEW_KEY))
    with pytest.raises(RefusedPayload, match="not encrypted with an ARREARS_PAYLOAD_KEY"):
        await converter.decode([plain])
    auditors = EncryptionCodec.from_spec(NEW_KEY, for_audit=True)
    assert await auditors.decode([plain]) == [plain]


async def test_a_rotated_key_still_decodes_payloads_encrypted_with_the_old_one() -> None:
    before = EncryptionCodec.from_spec(OLD_KEY)
    [old] = await before.encode([_plain(b'"written last year"')])

    rotated = EncryptionCodec.from_spec(f"{NEW_KEY},{OLD_KEY}")
    assert await rotated.decode([old]) == [_plain(b'"written last year"')]
    [new] = await rotated.encode([_plain(b'"written today"')])
    assert new.metadata[KEY_ID].decode() == rotated.active_key_id != before.active_key_id

    retired = Settings(ARREARS_PAYLOAD_KEY=NEW_KEY)
    with pytest.raises(RefusedPayload, match=before.active_key_id):
        await data_converter(retired).decode([old])
    with pytest.raises(PayloadKeyError, match=before.active_key_id):
        await EncryptionCodec.from_spec(NEW_KEY, for_audit=True).decode([old])


async def test_explicit_key_ids_are_written_and_honoured() -> None:
    codec = EncryptionCodec.from_spec(f"2027-01:{NEW_KEY},2026-01:{OLD_KEY}")
    assert codec.key_ids == ["2027-01", "2026-01"]
    [payload] = await codec.encode([_plain(b"1")])
    assert payload.metadata[KEY_ID] == b"2027-01"


async def test_an_altered_payload_is_refused_not_misread() -> None:
    codec = EncryptionCodec.from_spec(NEW_KEY)
    [payload] = await codec.encode([_plain(b'"1200.00"')])
    tampered = Payload()
    tampered.CopyFrom(payload)
    tampered.data = payload.data[:-1] + bytes([payload.data[-1] ^ 1])
    with pytest.raises(RefusedPayload, match="does not decrypt"):
        await data_converter(Settings(ARREARS_PAYLOAD_KEY=NEW_KEY)).decode([tampered])
    # Auditors' tools show it refused too (a forged payload must not break an export).
    [shown] = await EncryptionCodec.from_spec(NEW_KEY, for_audit=True).decode([tampered])
    reason = refusal_reason(shown)
    assert reason is not None and "does not decrypt" in reason


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty"),
        ("not base64!", "entry 1 is not base64"),
        (f"{NEW_KEY},{base64.b64encode(b'short').decode()}", "entry 2 is 5 bytes"),
        (f"a:{NEW_KEY},a:{OLD_KEY}", "same key id twice"),
    ],
)
def test_a_bad_key_setting_is_refused_naming_the_entry_never_the_secret(
    spec: str, problem: str
) -> None:
    with pytest.raises(PayloadKeyError, match=problem) as caught:
        parse_keys(spec)
    assert NEW_KEY not in str(caught.value) and OLD_KEY not in str(caught.value)


def test_the_dev_default_is_a_valid_documented_key() -> None:
    [key] = parse_keys(DEV_PAYLOAD_KEY)
    assert key.secret == b"arrears-dev-payload-key-32bytes!"
    assert Settings().payload_key_spec == DEV_PAYLOAD_KEY


async def test_failure_messages_and_stack_traces_are_encrypted_too() -> None:
    """Error messages are not payloads; the failure converter moves them into one."""
    converter = data_converter(Settings(ARREARS_PAYLOAD_KEY=NEW_KEY))
    failure = Failure()
    try:
        raise ApplicationError("cannot reach Wang Fang at +8613800138000", type="Unreachable")
    except ApplicationError as error:
        await converter.encode_failure(error, failure)
    raw = failure.SerializeToString()
    assert b"Wang Fang" not in raw and b"8613800138000" not in raw
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert failure.application_failure_info.type == "Unreachable"  # types stay readable
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == "cannot reach Wang Fang at +8613800138000"


# ------------------------------------------------------------------------------ production keys


def test_keys_new_prints_a_fresh_entry_that_encrypts_under_the_id_it_names() -> None:
    from typer.testing import CliRunner

    from arrears.cli import app
    from core import logmask

    try:
        first = CliRunner().invoke(app, ["keys", "new"])
        second = CliRunner().invoke(app, ["keys", "new"])
    finally:
        logmask.uninstall()
    assert first.exit_code == 0, first.output
    entry = first.stdout.strip().splitlines()[0]
    assert entry != second.stdout.strip().splitlines()[0]
    [key] = parse_keys(entry)
    assert entry.startswith(f"{key.key_id}:") and key.key_id == fingerprint(key.secret)
    assert EncryptionCodec([key]).encrypt(_plain(b"1")).metadata[KEY_ID] == key.key_id.encode()


@pytest.mark.parametrize(
    "address", ["temporal:7233", "temporal.prod.internal:7233", "ns.acct.tmprl.cloud:7233"]
)
def test_the_public_dev_key_is_refused_against_a_temporal_on_another_machine(
    address: str,
) -> None:
    from core.codec import DevKeyRefused, check_dev_key

    with pytest.raises(DevKeyRefused, match="ARREARS_ALLOW_DEV_KEY") as refused:
        check_dev_key(DEV_PAYLOAD_KEY, address, allowed=False, dev_key=DEV_PAYLOAD_KEY)
    assert DEV_PAYLOAD_KEY not in str(refused.value)
    # Rotating away from it is the fix: a real key first, the dev key kept only to decrypt.
    rotated = f"{NEW_KEY},{DEV_PAYLOAD_KEY}"
    assert check_dev_key(rotated, address, allowed=False, dev_key=DEV_PAYLOAD_KEY) is None
    # Staging with synthetic borrowers may say so explicitly, and is warned.
    warning = check_dev_key(DEV_PAYLOAD_KEY, address, allowed=True, dev_key=DEV_PAYLOAD_KEY)
    assert warning and "ARREARS_ALLOW_DEV_KEY" in warning


@pytest.mark.parametrize("address", ["localhost:7233", "127.0.0.1:7233", "[::1]:7233"])
def test_the_dev_key_is_fine_for_the_embedded_stack_on_this_machine(address: str) -> None:
    from core.codec import check_dev_key

    assert check_dev_key(DEV_PAYLOAD_KEY, address, allowed=False, dev_key=DEV_PAYLOAD_KEY) is None


@pytest.mark.parametrize("command", ["worker", "api"])
def test_a_worker_or_api_with_the_public_key_against_a_remote_temporal_refuses_to_start(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal is in force where processes start, not only in the check: borrower data
    must never reach a shared cluster under a key anyone can read in our source."""
    from typer.testing import CliRunner

    from arrears.cli import app
    from core.settings import get_settings

    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.bank.internal:7233")
    monkeypatch.delenv("ARREARS_PAYLOAD_KEY", raising=False)
    monkeypatch.delenv("ARREARS_ALLOW_DEV_KEY", raising=False)
    get_settings.cache_clear()
    try:
        args = [command, "--port", "0"] if command == "api" else [command]
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "public dev key" in result.output and "arrears keys new" in result.output


async def test_connecting_with_the_public_key_to_a_remote_temporal_is_refused() -> None:
    from core.codec import DevKeyRefused
    from core.temporal import connect

    settings = Settings(TEMPORAL_ADDRESS="temporal.bank.internal:7233")
    with pytest.raises(DevKeyRefused):
        await connect(settings)
