"""Temporal workflows: decide with domain/, act through activities."""

from workflows.account import AccountWorkflow

WORKFLOWS = [AccountWorkflow]
__all__ = ["WORKFLOWS", "AccountWorkflow"]
