"""Which Temporal to connect to and how: the `temporal` CLI's environment and profile file, read
through the SDK's envconfig, merged with our settings.

Platform teams configure every Temporal client they run the same way (`TEMPORAL_ADDRESS`,
`TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_PROFILE` and the TOML
profile file at `TEMPORAL_CONFIG_FILE` or the CLI's default path), so a worker pointed at
Temporal Cloud needs no setting of ours. The precedence is envconfig's own: the profile file, then
the environment over it. Our `Settings` carries the same names, so a `Settings` built in code (the
tests, `arrears up`) is the environment the profile is merged with, and its values win.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from core.settings import Settings

# Settings fields that are the temporal CLI's own environment variables, by their variable name.
_ENVCONFIG_FIELDS = {
    "TEMPORAL_ADDRESS": "temporal_address",
    "TEMPORAL_NAMESPACE": "temporal_namespace",
    "TEMPORAL_API_KEY": "temporal_api_key",
    "TEMPORAL_TLS": "temporal_tls",
    "TEMPORAL_TLS_CLIENT_CERT_PATH": "temporal_tls_client_cert_path",
    "TEMPORAL_TLS_CLIENT_KEY_PATH": "temporal_tls_client_key_path",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "temporal_tls_server_ca_cert_path",
    "TEMPORAL_TLS_SERVER_NAME": "temporal_tls_server_name",
    "TEMPORAL_PROFILE": "temporal_profile",
    "TEMPORAL_CONFIG_FILE": "temporal_config_file",
}


@dataclass(frozen=True)
class TemporalTarget:
    """Where and how to connect. `connect_kwargs` go to `Client.connect` as they are; `repr`
    and `describe()` never show the API key or key material."""

    address: str
    namespace: str
    api_key: SecretStr | None = None
    tls: bool | TLSConfig = False
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.tls is not False

    @property
    def uses_mtls(self) -> bool:
        return isinstance(self.tls, TLSConfig) and self.tls.client_cert is not None

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "target_host": self.address,
            "namespace": self.namespace,
            "tls": self.tls,
        }
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.get_secret_value()
        if self.rpc_metadata:
            kwargs["rpc_metadata"] = dict(self.rpc_metadata)
        return kwargs

    def describe(self) -> str:
        """One line for logs and errors: address, namespace and how the client authenticates."""
        how = "mTLS" if self.uses_mtls else "TLS" if self.uses_tls else "plaintext"
        if self.api_key is not None:
            how += " + API key"
        return f"{self.address} (namespace {self.namespace}, {how})"

    def __repr__(self) -> str:
        return f"TemporalTarget({self.describe()})"


def envconfig_environment(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment envconfig merges the profile with: the process's TEMPORAL_* variables that
    Settings does not model (TEMPORAL_GRPC_META_*, TEMPORAL_TLS_*_DATA, ...), then every
    TEMPORAL_* value the settings were given (from the environment or in code)."""
    source = os.environ if environ is None else environ
    merged = {
        name: value
        for name, value in source.items()
        if name.startswith("TEMPORAL_") and name not in _ENVCONFIG_FIELDS
    }
    for name, attribute in _ENVCONFIG_FIELDS.items():
        if attribute not in settings.model_fields_set:
            continue
        value = getattr(settings, attribute)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        merged[name] = str(value)
    return merged


class TemporalConfigError(ValueError):
    """The Temporal connection cannot be built from the configuration (a profile that does not
    exist, an unreadable certificate file): said at start, before anything connects."""


def temporal_target(settings: Settings, environ: Mapping[str, str] | None = None) -> TemporalTarget:
    """The merged connection: envconfig's profile (file, then environment) with our settings as
    the environment; the embedded stack's address and namespace where nothing says otherwise."""
    env = envconfig_environment(settings, environ)
    config_file = env.get("TEMPORAL_CONFIG_FILE")
    try:
        # A profile named by TEMPORAL_PROFILE must exist; the default one may be absent.
        profile = ClientConfigProfile.load(
            profile=env.get("TEMPORAL_PROFILE"),
            config_source=Path(config_file) if config_file else None,
            override_env_vars=env,
        )
        connect = profile.to_client_connect_config()
    except OSError as error:
        raise TemporalConfigError(
            f"Temporal TLS file {error.filename or ''} cannot be read: {error.strerror or error}"
        ) from error
    except Exception as error:  # the bridge's ConfigError: bad TOML, unknown profile
        raise TemporalConfigError(f"Temporal client configuration: {error}") from error
    api_key = connect.get("api_key")
    return TemporalTarget(
        address=connect.get("target_host") or settings.temporal_address,
        namespace=connect.get("namespace") or settings.temporal_namespace,
        api_key=SecretStr(api_key) if api_key else None,
        tls=connect.get("tls", False),
        rpc_metadata=dict(connect.get("rpc_metadata") or {}),
    )
