"""What a task's `detail` JSON says, as a type: the store's queue and the API read a task's
fields through `TaskDetail` (and its SQL paths through `detail_key`), never by loose string keys.

The AccountWorkflow's moment activity writes it (activities/moment.py): the reason and where the
account stood when the task was created, the borrower's zone, and the action-detail fields a
person working the task needs (workflows/contracts/details.py names them for the action). Every
field is optional, as older rows may lack any of them; a key this model does not name is kept
(the API shows `detail` as stored) but not read here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["TaskDetail", "detail_key", "task_detail"]


class TaskDetail(BaseModel):
    """A task's detail as the moment activity records it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    reason: str | None = None
    dpd: int | None = None
    stage: str | None = None
    """The account's stage when the task was created: the ranking's risk weight (STAGE_RISK)."""
    amount_overdue: Decimal | None = None
    timezone: str | None = None
    """The borrower's IANA zone: "today" for their promises is their calendar day."""
    to: str | None = None
    agents: int | None = None
    mention_debt: bool | None = None
    promise_due: date | None = None
    """A promise of the account falls due that day: the task ranks first on it."""
    requested_by: str | None = None
    """Who asked for an approval: four eyes, they may not decide it."""
    approves: str | None = None
    """What an approval decides when it is not a supervisor's: `lawsuit_filing` (legal role)."""
    amount: Decimal | None = None
    """What an approval is about, e.g. the balance a lawsuit would claim."""
    currency: str | None = None
    purpose: str | None = None
    party: str | None = None
    never_to: list[str] | None = None
    """Collectors the borrower complained about: the task never goes to them (section 10)."""
    loans: list[dict[str, object]] | None = None
    """Every overdue loan of the borrower a consolidated call task names (loan_id, amount
    overdue, oldest due date): an outcome on the task applies to each (docs/borrowers.md)."""


def task_detail(detail: object) -> TaskDetail:
    """A task row's `detail` (a JSON object, or None for none) as a TaskDetail."""
    if detail is None:
        return TaskDetail()
    return TaskDetail.model_validate(detail)


def detail_key(field: str) -> str:
    """The JSON key of a TaskDetail field, for the queue's SQL (`tasks.detail[key]`): a name
    that is not a field fails at import, so the SQL and the model cannot drift apart."""
    if field not in TaskDetail.model_fields:
        raise KeyError(f"TaskDetail has no field {field!r}")
    return field
