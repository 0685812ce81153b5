"""How every process talks to Temporal: one place for the address, namespace and data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from arrears.settings import Settings

# Custom search attributes the workflows upsert (DESIGN.md: they must exist before a workflow
# upserts them). Keyword values only; no PII ever goes into them.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "ArrearsState": "Keyword",
    "ArrearsBucket": "Keyword",
    "ArrearsStage": "Keyword",
    "ArrearsSegment": "Keyword",
}


async def connect(settings: Settings) -> Client:
    """A client with the pydantic data converter, so workflow inputs and state are pydantic."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
