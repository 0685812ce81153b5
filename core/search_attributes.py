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


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the missing ones; returns the names added. Idempotent.

    The time-skipping test server implements adding but not listing; one request per attribute
    keeps "already exists" from hiding the others.
    """
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
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
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    log.info("registered search attributes %s", ", ".join(sorted(missing)))
    return sorted(missing)
