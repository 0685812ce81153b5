"""Escalation (PLAYBOOK.md section 5): who holds an account and its work.

A supervisor reassigns any account or task; a collector hands an account they hold to their
team lead. Account changes are workflow updates (a `reassignment` action in the record, the
account's open work handed over by the store); a task's assignee is the store's alone. The
collector a borrower complained about never gets the account back (409 `not_allowed_in_state`
/ `task_barred`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CollectorDep, SettingsDep, SupervisorDep, TemporalClientDep
from api.errors import ApiError
from api.openapi import accepted
from api.services.access import collector_holds_account, require_known_staff
from api.services.episodes import update_account
from api.services.tasks import Task, store_error
from api.state import business_now, database_url
from store import tasks as queue
from store.engine import session_scope
from workflows.contracts import AccountUpdate, ReassignRequest, ReassignResult

router = APIRouter(tags=["escalation"])


def _config(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [example]}
    )


class ReassignBody(BaseModel):
    """Who holds the account from now on, and why (a supervisor's reassignment)."""

    model_config = _config({"to": "bob", "reason": "workload balancing"})

    to: str = Field(min_length=1, max_length=80, examples=["bob"])
    reason: str = Field(min_length=1, max_length=200, examples=["workload balancing"])


class EscalateBody(BaseModel):
    """A collector handing the account they hold to the team lead."""

    model_config = _config({"reason": "borrower asks for a manager"})

    reason: str = Field(min_length=1, max_length=200, examples=["borrower asks for a manager"])
    to: str | None = Field(
        default=None,
        max_length=80,
        description="the team lead (ARREARS_TEAM_LEAD), and nobody else; optional",
    )


class AssignBody(BaseModel):
    """Who a supervisor gives the task to."""

    model_config = _config({"assignee": "bob"})

    assignee: str = Field(min_length=1, max_length=80, examples=["bob"])


@router.post(
    "/v1/accounts/{loan_id}/reassign",
    status_code=202,
    summary="A supervisor gives the account to another collector",
    description="Records a `reassignment` action; the account's open tasks go to the new "
    "holder. Never to a collector the borrower complained about (409).",
    responses=accepted(
        {"accepted": True, "loan_id": "L-1001", "holder": "bob", "kind": "reassignment"}
    ),
)
async def reassign_account(
    loan_id: str,
    body: ReassignBody,
    request: Request,
    who: SupervisorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    require_known_staff(request, body.to, "to")
    update = ReassignRequest(to=body.to, by=who.user, reason=body.reason, kind="reassignment")
    result = await update_account(
        client, loan_id, AccountUpdate.REASSIGN, update, "reassign the account", ReassignResult
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}


@router.post(
    "/v1/accounts/{loan_id}/escalate",
    status_code=202,
    summary="A collector hands the account to the team lead",
    description="Allowed to the collector who holds the account (or any collector while "
    "nobody holds it) and to supervisors; the account goes to the configured team lead "
    "(ARREARS_TEAM_LEAD). `to`, when sent, must name the team lead (else 422 `not_team_lead`): "
    "handing an account to anyone else is a supervisor's reassignment.",
    dependencies=[Depends(collector_holds_account)],
    responses=accepted(
        {"accepted": True, "loan_id": "L-1001", "holder": "carol", "kind": "escalation"}
    ),
)
async def escalate_account(
    loan_id: str,
    body: EscalateBody,
    request: Request,
    who: CollectorDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    lead = settings.team_lead
    if body.to is not None and body.to != lead:
        # Escalation is upward only: naming a peer or anyone else would be a reassignment,
        # which is a supervisor's (POST .../reassign).
        raise ApiError(
            422,
            "not_team_lead",
            f"Invalid input — to: an escalation goes to the team lead ({lead}) only; a "
            "supervisor reassigns an account to anyone else.",
            [{"loc": ["body", "to"], "msg": "not the team lead", "type": "team_lead"}],
        )
    require_known_staff(request, lead, "to")
    update = ReassignRequest(to=lead, by=who.user, reason=body.reason, kind="escalation")
    result = await update_account(
        client, loan_id, AccountUpdate.REASSIGN, update, "escalate the account", ReassignResult
    )
    return {"accepted": True, "loan_id": loan_id, **result.model_dump(mode="json")}


@router.post(
    "/v1/tasks/{task_id}/assign",
    summary="A supervisor gives a task to someone",
    description="The task becomes theirs (claimed). A closed task → 409 `task_closed`; a "
    "collector the borrower complained about → 409 `task_barred`.",
    response_model=Task,
)
async def assign_task(
    task_id: str,
    body: AssignBody,
    request: Request,
    _who: SupervisorDep,
) -> Task:
    require_known_staff(request, body.assignee, "assignee")
    now = await business_now(request)

    def write() -> Task:
        with session_scope(database_url(request)) as session:
            return Task.of(queue.assign_task(session, task_id, body.assignee, now))

    try:
        return await asyncio.to_thread(write)
    except queue.TaskError as exc:
        raise store_error(exc) from exc
