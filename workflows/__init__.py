"""Temporal workflows: decide with domain/, act through activities."""

from workflows.account import AccountWorkflow
from workflows.restructure import DebtRestructureWorkflow
from workflows.write_off import WriteOffWorkflow

WORKFLOWS = [AccountWorkflow, WriteOffWorkflow, DebtRestructureWorkflow]
__all__ = ["WORKFLOWS", "AccountWorkflow", "DebtRestructureWorkflow", "WriteOffWorkflow"]
