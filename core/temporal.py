"""How every process talks to Temporal: one place for the address, namespace and data converter."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
)
from temporalio.service import KeepAliveConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.codec import REFUSED, EncryptionCodec, RefusedPayload, check_dev_key, refusal_reason
from core.settings import DEV_PAYLOAD_KEY, Settings
from core.temporal_target import TemporalTarget, temporal_target

log = logging.getLogger(__name__)

# Custom search attributes the workflows upsert (DESIGN.md: they must exist before a workflow
# upserts them). Keyword values only; no PII ever goes into them.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "ArrearsState": "Keyword",
    "ArrearsBucket": "Keyword",
    "ArrearsStage": "Keyword",
    "ArrearsSegment": "Keyword",
}


class _RefusedPayloadConverter(EncodingPayloadConverter):
    """Turns no value into a refused payload, and a refused payload into no value: converting
    one raises RefusedPayload with the codec's reason, so the SDK drops a forged signal (and
    logs why), rejects a forged update and fails a forged query, and the workflow goes on."""

    @property
    def encoding(self) -> str:
        return REFUSED.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise RefusedPayload(f"payload refused, never applied: {refusal_reason(payload)}")


class ArrearsPayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON, plus the refusal of payloads no key of ours sealed (core/codec.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(_RefusedPayloadConverter(), *self.converters.values())


def data_converter(settings: Settings, *, for_audit: bool = False) -> DataConverter:
    """The one converter of every process (clients, workers, the Replayer, tests): pydantic
    models as JSON, every payload encrypted by the PII codec (core/codec.py), a payload none of
    our keys sealed refused, and failure messages and stack traces moved into an encoded, hence
    encrypted, attribute. `for_audit` (replaying an exported history): payloads in clear (a
    decrypted export) are read as they are, and a missing key is an error naming it."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=ArrearsPayloadConverter,
        payload_codec=EncryptionCodec.from_spec(settings.payload_key_spec, for_audit=for_audit),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings) -> Client:
    """A client with the production data converter, so workflow inputs and state are pydantic
    and nothing readable about a borrower reaches the Temporal server. Every worker, API and
    CLI connects here, so the public dev key is refused here against a remote Temporal.

    Where: the `temporal` CLI's environment and profile merged with our settings
    (core/temporal_target.py): an API key, TLS or mTLS is configuration, not code."""
    target = refuse_public_key(settings)
    log.info("connecting to Temporal at %s", target.describe())
    return await Client.connect(
        **target.connect_kwargs(),
        data_converter=data_converter(settings),
        # The time-skipping test server is on this machine, and a clock advance holds one call
        # open while a portfolio's busy day runs: pings it answers late would break the call.
        keep_alive_config=None if settings.virtual_time else KeepAliveConfig.default,
    )


def refuse_public_key(settings: Settings) -> TemporalTarget:
    """Raise DevKeyRefused (a ValueError) when the public dev key would encrypt borrower data
    for a Temporal on another machine; log a warning when ARREARS_ALLOW_DEV_KEY permits it.
    Returns the Temporal it judged (the merged connection target)."""
    target = temporal_target(settings)
    warning = check_dev_key(
        settings.payload_key_spec,
        target.address,
        allowed=settings.allow_dev_key,
        dev_key=DEV_PAYLOAD_KEY,
    )
    if warning:
        log.warning(warning)
    return target


# Modules the workflow sandbox shares with the host instead of re-importing per workflow run:
# our pure domain (deterministic by rule), the workflows' contracts and the data libraries they
# use, whose lazily loaded tables (babel's CLDR files, phonenumbers' region metadata) the sandbox
# would otherwise refuse. The AccountWorkflow's decision modules join them, named by their own
# package (workflows.account.DECISION_MODULES, the one list): the caller hands them to
# `sandbox_runner`, since core imports nothing of ours. A `from package import module` inside
# `imports_passed_through()` is not enough: the sandbox compiled those modules again for every
# run (bench/sandbox_cost.py).
PASSTHROUGH_MODULES = (
    "domain",
    "workflows.contracts",
    "babel",
    "phonenumbers",
    "yaml",
    "holidays",
)


def sandbox_runner(decision_modules: Iterable[str]) -> SandboxedWorkflowRunner:
    """The sandbox every process that runs workflow code uses (the worker and the Replayer, through
    `worker.main.workflow_runner` and `audit.replay`), so a replay checks the code under the same
    rules it ran under. `decision_modules` are the workflows' pure modules to share as well
    (workflows.account.DECISION_MODULES). Modules are named, not imported: core stays free of
    our packages."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *PASSTHROUGH_MODULES, *decision_modules
        )
    )
