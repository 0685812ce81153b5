"""The contract between the AccountWorkflow and its callers: handler names beside the payload and
result types they carry. The API imports these, never the workflow's code."""

from workflows.contracts.names import ACCOUNT_WORKFLOW, AccountQuery, AccountSignal, AccountUpdate

__all__ = ["ACCOUNT_WORKFLOW", "AccountQuery", "AccountSignal", "AccountUpdate"]
