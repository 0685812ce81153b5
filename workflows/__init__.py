"""Temporal workflows: decide with domain/ and the pure decision modules of workflows.account,
act through activities.

The workflow classes are loaded on first use (`from workflows import WORKFLOWS`), so importing a
pure module of this package (workflows.contracts, workflows.account.ladder, ...) loads no
temporalio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.account import AccountWorkflow
    from workflows.restructure import DebtRestructureWorkflow
    from workflows.write_off import WriteOffWorkflow

    WORKFLOWS: list[type]

__all__ = ["WORKFLOWS", "AccountWorkflow", "DebtRestructureWorkflow", "WriteOffWorkflow"]


def __getattr__(name: str) -> Any:
    """The workflow classes and `WORKFLOWS` (every workflow the worker registers), on demand."""
    if name == "AccountWorkflow":
        from workflows.account import AccountWorkflow

        return AccountWorkflow
    if name == "DebtRestructureWorkflow":
        from workflows.restructure import DebtRestructureWorkflow

        return DebtRestructureWorkflow
    if name == "WriteOffWorkflow":
        from workflows.write_off import WriteOffWorkflow

        return WriteOffWorkflow
    if name == "WORKFLOWS":
        from workflows.account import AccountWorkflow
        from workflows.borrower import BorrowerWorkflow
        from workflows.restructure import DebtRestructureWorkflow
        from workflows.write_off import WriteOffWorkflow

        workflows = [AccountWorkflow, WriteOffWorkflow, DebtRestructureWorkflow, BorrowerWorkflow]
        globals()["WORKFLOWS"] = workflows  # one list, as a module constant would be
        return workflows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
