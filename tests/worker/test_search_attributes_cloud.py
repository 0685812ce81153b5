"""On Temporal Cloud the worker's namespace credentials cannot create search attributes: a worker
finding them missing refuses to start with the command that creates them, instead of polling and
failing every workflow task that upserts one."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesResponse
from temporalio.service import RPCError, RPCStatusCode

from core.search_attributes import SearchAttributesMissing, ensure_search_attributes

KEYWORD = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


class _Operator:
    def __init__(self, custom: dict[str, Any], list_status: RPCStatusCode | None = None) -> None:
        self.custom = custom
        self.list_status = list_status

    async def list_search_attributes(self, _request: Any) -> ListSearchAttributesResponse:
        if self.list_status is not None:
            raise RPCError("not allowed", self.list_status, b"")
        return ListSearchAttributesResponse(
            custom_attributes=self.custom, system_attributes={"WorkflowId": KEYWORD}
        )

    async def add_search_attributes(self, _request: Any) -> None:
        raise RPCError("Request unauthorized.", RPCStatusCode.PERMISSION_DENIED, b"")


class _Client:
    def __init__(self, operator: _Operator) -> None:
        self.operator_service = operator


async def test_missing_attributes_on_cloud_stop_the_worker_naming_the_tcld_command() -> None:
    client = _Client(_Operator({"ArrearsState": KEYWORD}))
    with pytest.raises(SearchAttributesMissing) as refused:
        await ensure_search_attributes(client, "payments.a1b2c")  # type: ignore[arg-type]
    message = str(refused.value)
    assert "tcld namespace search-attributes add --namespace payments.a1b2c" in message
    assert "--sa ArrearsBucket=Keyword" in message and "ArrearsState=" not in message


async def test_attributes_created_beforehand_need_no_permission() -> None:
    present = dict.fromkeys(
        ["ArrearsState", "ArrearsBucket", "ArrearsStage", "ArrearsSegment"], KEYWORD
    )
    client = _Client(_Operator(present))
    assert await ensure_search_attributes(client, "payments.a1b2c") == []  # type: ignore[arg-type]


async def test_a_namespace_that_may_not_even_list_them_is_assumed_prepared() -> None:
    client = _Client(_Operator({}, list_status=RPCStatusCode.PERMISSION_DENIED))
    assert await ensure_search_attributes(client, "payments.a1b2c") == []  # type: ignore[arg-type]
