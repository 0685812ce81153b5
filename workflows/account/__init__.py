"""AccountWorkflow (`workflow.py`) over the episode (`episode.py`: state, pinned policy, outbox)
and one pure decision module per concern: `ladder`, `gate`, `promises`, `outcomes`, `holds`,
`agency_legal`, `subflows`, `deliveries` (with `branches` and `contacts`, their helpers).

The decision modules import nothing from temporalio, directly or through this package: the
workflow class is loaded only when asked for by name, so a unit test (or the simulator) can import
a decision module without Temporal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.account.workflow import AccountWorkflow

__all__ = ["AccountWorkflow"]


def __getattr__(name: str) -> Any:
    """`from workflows.account import AccountWorkflow`, loaded on first use."""
    if name == "AccountWorkflow":
        from workflows.account.workflow import AccountWorkflow

        return AccountWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
