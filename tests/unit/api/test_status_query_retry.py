"""A status read is asked again, once, when its run closed under it: a payment that moves an
episode across a stage boundary continues it as new, and a query that reached the closing run
fails (NOT_FOUND on a server, a timeout on the test server) though the account is open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.services.episodes import query_status
from workflows.contracts import AccountStatus

AS_OF = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


class _Handle:
    def __init__(self, failures: list[RPCStatusCode], answer: Any) -> None:
        self.failures = failures
        self.answer = answer
        self.asked = 0

    async def query(self, *_args: Any, **_kwargs: Any) -> Any:
        self.asked += 1
        if self.failures:
            code = self.failures.pop(0)
            raise RPCError("workflow execution already completed", code, b"")
        return self.answer


class _Client:
    def __init__(self, handle: _Handle) -> None:
        self.handle = handle

    def get_workflow_handle(self, _workflow_id: str) -> _Handle:
        return self.handle


ANSWER = object()


@pytest.mark.parametrize(
    "code", [RPCStatusCode.NOT_FOUND, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED]
)
async def test_a_status_query_lost_to_a_closing_run_is_asked_once_more(code: RPCStatusCode) -> None:
    handle = _Handle([code], ANSWER)
    status: AccountStatus = await query_status(_Client(handle), "L-1", AS_OF)  # type: ignore[arg-type]
    assert status is ANSWER and handle.asked == 2


async def test_a_status_query_failing_twice_gives_up_with_the_servers_answer() -> None:
    handle = _Handle([RPCStatusCode.NOT_FOUND, RPCStatusCode.NOT_FOUND], ANSWER)
    with pytest.raises(RPCError) as failure:
        await query_status(_Client(handle), "L-1", AS_OF)  # type: ignore[arg-type]
    assert failure.value.status == RPCStatusCode.NOT_FOUND and handle.asked == 2


async def test_a_status_query_the_server_calls_invalid_is_not_asked_again() -> None:
    handle = _Handle([RPCStatusCode.INVALID_ARGUMENT], ANSWER)
    with pytest.raises(RPCError):
        await query_status(_Client(handle), "L-1", AS_OF)  # type: ignore[arg-type]
    assert handle.asked == 1
