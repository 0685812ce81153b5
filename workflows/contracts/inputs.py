"""What starts an AccountWorkflow and what the loan system sends it: the start (or continue-as-new)
input, new instalments, and the stable ids of the workflow and of the tasks it creates."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.account import Account, Instalment
from domain.policy import EpisodePolicy
from workflows.contracts.state import EpisodeState

__all__ = ["AccountWorkflowInput", "InstalmentsIn", "task_id_for", "workflow_id_for"]


def task_id_for(loan_id: str, episode: str, seq: int) -> str:
    """Stable, so a retried activity, a replay and the workflow itself name the same task."""
    return f"{loan_id}-{episode[:8]}-{seq}"


def workflow_id_for(loan_id: str) -> str:
    """One workflow id per loan: starting it twice finds the open one (CONTRACT.md)."""
    return f"account-{loan_id}"


class AccountWorkflowInput(BaseModel):
    """What starts an episode: the account and the policy it is pinned to, by reference (name,
    version and content hash of its strategy, contact profile and calendars; docs/policy.md), so
    every start and continue-as-new input stays small and an edited file cannot change what a
    running episode decides."""

    account: Account | None = Field(
        default=None,
        description="the account at the start; at continue-as-new it rides in "
        "`carried` (once, not twice)",
    )
    policy: EpisodePolicy
    carried: EpisodeState | None = Field(
        default=None, description="the state handed over by continue-as-new; None at the start"
    )

    @model_validator(mode="after")
    def _account_or_carried(self) -> AccountWorkflowInput:
        if self.account is None and self.carried is None:
            raise ValueError("an episode starts with an account or continues with its state")
        return self


class InstalmentsIn(BaseModel):
    """A changed schedule or a newly issued instalment from the loan system."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"instalments": [{"seq": 9, "due_date": "2027-02-01", "amount": "1200.00"}]}
            ]
        }
    )

    instalments: list[Instalment] = Field(min_length=1)
