"""Temporal Cloud is a configuration change: the `temporal` CLI's environment and profile file
(the SDK's envconfig) merged with our settings decide where and how every process connects, and
no secret of that configuration shows in a log line, an error or a repr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.settings import Settings
from core.temporal import refuse_public_key
from core.temporal_target import TemporalConfigError, temporal_target

CLOUD_PROFILE = """
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "payments.a1b2c.tmprl.cloud:7233"
namespace = "payments.a1b2c"
api_key = "profile-api-key-123"

[profile.mtls]
address = "payments.a1b2c.tmprl.cloud:7233"
namespace = "payments.a1b2c"
[profile.mtls.tls]
client_cert_path = "{cert}"
client_key_path = "{key}"
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    (tmp_path / "client.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    (tmp_path / "client.key").write_text("-----BEGIN PRIVATE KEY-----\nMIIE\n")
    path = tmp_path / "temporal.toml"
    path.write_text(CLOUD_PROFILE.format(cert=tmp_path / "client.pem", key=tmp_path / "client.key"))
    return path


def test_without_configuration_the_embedded_dev_server_is_the_target() -> None:
    target = temporal_target(Settings(), environ={})
    assert (target.address, target.namespace, target.tls, target.api_key) == (
        "localhost:7233",
        "default",
        False,
        None,
    )


def test_a_cli_profile_names_the_cloud_namespace_and_its_api_key_turns_tls_on(
    profile_file: Path,
) -> None:
    settings = Settings(TEMPORAL_CONFIG_FILE=profile_file, TEMPORAL_PROFILE="cloud")
    target = temporal_target(settings, environ={})
    assert target.address == "payments.a1b2c.tmprl.cloud:7233"
    assert target.namespace == "payments.a1b2c"
    assert target.api_key is not None
    assert target.api_key.get_secret_value() == "profile-api-key-123"
    assert target.tls is True
    kwargs = target.connect_kwargs()
    assert kwargs["api_key"] == "profile-api-key-123" and kwargs["tls"] is True


def test_our_settings_override_the_profile_field_by_field(profile_file: Path) -> None:
    settings = Settings(
        TEMPORAL_CONFIG_FILE=profile_file,
        TEMPORAL_PROFILE="cloud",
        TEMPORAL_NAMESPACE="staging.a1b2c",
        TEMPORAL_API_KEY="rotated-key-456",
    )
    target = temporal_target(settings, environ={})
    assert target.address == "payments.a1b2c.tmprl.cloud:7233"  # from the profile
    assert target.namespace == "staging.a1b2c"  # ours wins
    assert target.api_key is not None and target.api_key.get_secret_value() == "rotated-key-456"


def test_the_environment_variables_of_the_temporal_cli_configure_mtls(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "c.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    settings = Settings(
        TEMPORAL_ADDRESS="payments.a1b2c.tmprl.cloud:7233",
        TEMPORAL_TLS_CLIENT_CERT_PATH=cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH=key,
        TEMPORAL_TLS_SERVER_NAME="payments.a1b2c.tmprl.cloud",
    )
    target = temporal_target(settings, environ={})
    assert isinstance(target.tls, TLSConfig)
    assert (target.tls.client_cert, target.tls.client_private_key) == (b"CERT", b"KEY")
    assert target.tls.domain == "payments.a1b2c.tmprl.cloud"
    assert target.uses_mtls and "mTLS" in target.describe()


def test_variables_settings_do_not_model_still_reach_envconfig() -> None:
    target = temporal_target(Settings(), environ={"TEMPORAL_GRPC_META_X_TENANT": "collections"})
    assert dict(target.rpc_metadata) == {"x-tenant": "collections"}


def test_tls_can_be_switched_off_explicitly_for_an_api_key_behind_a_terminating_proxy() -> None:
    target = temporal_target(Settings(TEMPORAL_API_KEY="k-1", TEMPORAL_TLS="false"), environ={})
    assert target.tls is False and target.api_key is not None


def test_a_profile_that_does_not_exist_is_a_clear_error_at_start(profile_file: Path) -> None:
    settings = Settings(TEMPORAL_CONFIG_FILE=profile_file, TEMPORAL_PROFILE="prod")
    with pytest.raises(TemporalConfigError, match="prod"):
        temporal_target(settings, environ={})


def test_an_unreadable_client_certificate_is_a_clear_error_naming_the_file(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere.pem"
    settings = Settings(TEMPORAL_TLS_CLIENT_CERT_PATH=missing, TEMPORAL_TLS_CLIENT_KEY_PATH=missing)
    with pytest.raises(TemporalConfigError, match="nowhere.pem"):
        temporal_target(settings, environ={})


def test_no_secret_shows_in_a_repr_a_description_or_the_connection_log(
    profile_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {
        "TEMPORAL_API_KEY": "api-key-do-not-log",
        "ARREARS_PAYLOAD_KEY": "a2V5LWRvLW5vdC1sb2ctMzJieXRlcy0tLS0tLS0tLS0=",
        "ARREARS_API_KEYS": "apikey-do-not-log:loan-system",
        "TWILIO_AUTH_TOKEN": "twilio-token-do-not-log",
        "ARREARS_SANDBOX_AUTH_TOKEN": "sandbox-token-do-not-log",
    }
    settings = Settings(**secrets, TEMPORAL_ADDRESS="127.0.0.1:7233")  # type: ignore[arg-type]
    target = temporal_target(settings, environ={})
    with caplog.at_level(logging.DEBUG):
        refuse_public_key(settings)
        logging.getLogger("core.temporal").info("connecting to Temporal at %s", target.describe())
    shown = " ".join([repr(settings), str(settings), repr(target), target.describe(), caplog.text])
    for value in secrets.values():
        assert value not in shown
    assert settings.payload_key_spec == secrets["ARREARS_PAYLOAD_KEY"]
    assert settings.api_keys_spec == secrets["ARREARS_API_KEYS"]
