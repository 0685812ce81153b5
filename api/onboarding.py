"""Starting an episode, shared by `POST /v1/accounts` and the batch endpoint.

One place decides which strategy an account starts under and refuses what would fail inside the
workflow (an unknown contact profile), so a single start and a batch item behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from arrears.settings import Settings
from domain.account import Account
from domain.contact import profile_for
from domain.strategy import Strategy, StrategyError, load_strategy
from workflows.messages import AccountStatus, AccountWorkflowInput, workflow_id_for

DEFAULT_STRATEGY = "default"


@dataclass(frozen=True)
class Started:
    """The account's status after the start, and whether this call opened the episode."""

    status: AccountStatus
    created: bool


def choose_strategy(account: Account) -> Strategy:
    """The strategy version an account is pinned to for its whole episode."""
    try:
        return load_strategy(DEFAULT_STRATEGY)
    except StrategyError as exc:
        raise ApiError(503, "strategy_unavailable", str(exc)) from exc


def check_startable(account: Account, strategy: Strategy) -> None:
    """Refuse here what the workflow could not run: an unknown profile would fail every task."""
    try:
        profile_for(account.jurisdiction, strategy.jurisdiction)
    except ValueError as exc:
        raise ApiError(
            422,
            "validation_error",
            str(exc),
            [{"loc": ["body", "jurisdiction"], "msg": str(exc)}],
        ) from exc


async def episode_running(client: Client, loan_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id_for(loan_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def start_episode(
    client: Client, settings: Settings, account: Account, as_of: datetime
) -> Started:
    """Start the account's workflow, or answer the open one: a second start duplicates nothing
    (USE_EXISTING closes the race between two starts of the same loan)."""
    strategy = choose_strategy(account)
    check_startable(account, strategy)
    handle = client.get_workflow_handle(workflow_id_for(account.loan_id))
    if await episode_running(client, account.loan_id):
        status = await handle.query("status", as_of, result_type=AccountStatus)
        return Started(status=status, created=False)
    handle = await client.start_workflow(
        "AccountWorkflow",
        AccountWorkflowInput(account=account, strategy=strategy),
        id=workflow_id_for(account.loan_id),
        task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    status = await handle.query("status", as_of, result_type=AccountStatus)
    return Started(status=status, created=True)
