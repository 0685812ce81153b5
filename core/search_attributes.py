"""Make sure the custom search attributes exist on the namespace before any workflow upserts them
(an upsert of an unknown attribute fails the workflow task over and over)."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.temporal import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
}


class SearchAttributesMissing(RuntimeError):
    """The namespace lacks attributes the workflows upsert and this worker may not add them
    (Temporal Cloud: an operator creates them, docs/operations-temporal.md)."""


def cloud_command(namespace: str, names: list[str]) -> str:
    """The `tcld` command that creates the named attributes on a Temporal Cloud namespace."""
    flags = " ".join(f"--sa {name}={SEARCH_ATTRIBUTES[name]}" for name in names)
    return f"tcld namespace search-attributes add --namespace {namespace} {flags}"


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the missing ones; returns the names added. Idempotent.

    The time-skipping test server implements adding but not listing; one request per attribute
    keeps "already exists" from hiding the others. Where adding is not allowed (Temporal Cloud's
    namespace credentials cannot), raise SearchAttributesMissing naming the command that creates
    them: a worker started without them would fail every upsert's workflow task.
    """
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status == RPCStatusCode.PERMISSION_DENIED:
            log.warning(
                "cannot list search attributes on %s (%s); assuming %s exist",
                namespace,
                err.message,
                ", ".join(SEARCH_ATTRIBUTES),
            )
            return []
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()  # the time-skipping test server can add but not list them
    missing = {name: _TYPES[kind] for name, kind in SEARCH_ATTRIBUTES.items() if name not in known}
    if not missing:
        return []
    for name, kind in missing.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes={name: kind})
            )
        except RPCError as err:
            if err.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED) and (
                known
            ):
                raise SearchAttributesMissing(
                    f"namespace {namespace} lacks the search attributes {', '.join(missing)} and "
                    f"this worker may not create them ({err.message}); create them once: "
                    f"{cloud_command(namespace, sorted(missing))}"
                ) from err
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    log.info("registered search attributes %s", ", ".join(sorted(missing)))
    return sorted(missing)
