"""The supervisor's pages of the desk (issue 15): the team's queue and each person's workload,
reassigning accounts and tasks, the approvals waiting for a second pair of eyes and the latest
escalations to the team lead.

Everything goes through the JSON API's own route functions and body models — `list_tasks`,
`assign_task` (AssignBody), `reassign_account` (ReassignBody) — so a reassignment is validated,
refused and recorded exactly as over HTTP (known staff only, never to a collector the borrower
complained about, a workflow update for an account). Approvals are worked on the task form,
where the API enforces four eyes. Only supervisors see these pages (others get a 403 page).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import col, func, select

from api.auth import Role
from api.desk import gate
from api.desk.users import StaffUser
from api.desk.views import (
    GATE_HELPERS,
    NotSignedIn,
    _check_csrf,
    _field_error,
    _forbidden_page,
    _form,
    _page,
    _signed_in,
    _to_sign_in,
    who,
)
from api.errors import ApiError
from api.routes.escalation import AssignBody, ReassignBody, assign_task, reassign_account
from api.routes.tasks import list_tasks
from api.services.access import known_staff
from api.services.tasks import Task
from api.state import business_now, database_url, require_temporal
from store.engine import as_utc, session_scope
from store.models import AccountRow, ActionRow

router = APIRouter(prefix="/desk", include_in_schema=False)

NOBODY = "—"


def _held_accounts(url: str) -> dict[str, int]:
    """Open accounts per holder (a read of the store's snapshot, as the account search reads)."""
    with session_scope(url) as session:
        rows = session.exec(
            select(AccountRow.assignee, func.count())
            .where(col(AccountRow.closed_at).is_(None))
            .group_by(col(AccountRow.assignee))
        ).all()
    return {holder or NOBODY: count for holder, count in rows}


ESCALATIONS_SHOWN = 20


def _escalations(url: str) -> list[dict[str, Any]]:
    """The latest accounts a collector handed to the team lead (`reassignment` actions of kind
    `escalation`), newest first: who, to whom, why, when."""
    with session_scope(url) as session:
        rows = session.exec(
            select(ActionRow)
            .where(col(ActionRow.kind) == "reassignment")
            .order_by(col(ActionRow.at).desc())
            .limit(10 * ESCALATIONS_SHOWN)
        ).all()
    found = [
        {
            "loan_id": r.loan_id,
            "at": as_utc(r.at),
            "from": (r.detail or {}).get("from"),
            "to": (r.detail or {}).get("to"),
            "reason": (r.detail or {}).get("reason"),
        }
        for r in rows
        if (r.detail or {}).get("kind") == "escalation"
    ]
    return found[:ESCALATIONS_SHOWN]


def workload(tasks: list[Task], held: dict[str, int], staff: set[str]) -> list[dict[str, Any]]:
    """One row per person (and one for nobody): open tasks, those open now, accounts held."""
    open_tasks = Counter(t.assignee or NOBODY for t in tasks)
    people = sorted((staff | set(open_tasks) | set(held)) - {NOBODY}) + [NOBODY]
    return [
        {"person": p, "tasks": open_tasks.get(p, 0), "accounts": held.get(p, 0)}
        for p in people
        if p != NOBODY or open_tasks.get(p) or held.get(p)
    ]


async def _supervisor(request: Request) -> tuple[StaffUser, Any] | Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    if user.role != Role.SUPERVISOR:
        return _forbidden_page("The team's pages are a supervisor's.")
    return user, session


async def _team_context(request: Request, user: StaffUser) -> dict[str, Any]:
    tasks = await list_tasks(
        request=request,
        kind=None,
        status=None,
        assignee=None,
        include_future=True,
        limit=500,
        cursor=None,
        who=who(user),
        response=Response(),
    )
    held = await asyncio.to_thread(_held_accounts, database_url(request))
    escalations = await asyncio.to_thread(_escalations, database_url(request))
    staff = set(known_staff(request))
    collectors = sorted(staff)
    gates = await gate.compliance_of(request, {t.loan_id for t in tasks if t.kind == "call"})
    return {
        "tasks": [t for t in tasks if t.kind != "approval"],
        "approvals": [t for t in tasks if t.kind == "approval"],
        "workload": workload(tasks, held, staff),
        "escalations": escalations,
        "staff": collectors,
        "now": await business_now(request),
        "gates": gates,
        "buckets": {},
        **GATE_HELPERS,
    }


async def _team_page(
    request: Request,
    user: StaffUser,
    session: Any,
    notice: str | None = None,
    refusal: dict[str, Any] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = await _team_context(request, user)
    context.update(notice=notice, refusal=refusal, typed=typed or {})
    return await _page(request, "team.html", context, user, session, status=status)


@router.get("/team")
async def team_page(request: Request, notice: str | None = None) -> Response:
    signed = await _supervisor(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    return await _team_page(request, user, session, notice=notice)


def _read(model: type[BaseModel], form: dict[str, str], fields: tuple[str, ...]) -> BaseModel:
    return model.model_validate({f: form.get(f, "").strip() for f in fields})


async def _act(
    request: Request, fields: tuple[str, ...], model: type[BaseModel], act: Any, done: str
) -> Response:
    """Read the form into the API's body model, act through the API's route function, and show
    a refusal (validation or the API's) on the team page with what was typed kept."""
    form = await _form(request)
    await _check_csrf(request, form)
    signed = await _supervisor(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    typed = {k: v for k, v in form.items() if k in fields or k in ("loan_id", "task_id")}
    try:
        body = _read(model, form, fields)
        await act(form, body, user)
    except ValidationError as exc:
        refusal = {"code": "invalid_input", "messages": [_field_error(e) for e in exc.errors()]}
        return await _team_page(request, user, session, refusal=refusal, typed=typed, status=422)
    except ApiError as exc:
        refusal = {"code": exc.code, "messages": [exc.message]}
        return await _team_page(
            request, user, session, refusal=refusal, typed=typed, status=exc.status
        )
    return RedirectResponse(f"/desk/team?notice={quote(done)}", status_code=303)


@router.post("/team/assign-task")
async def assign_task_form(request: Request) -> Response:
    async def act(form: dict[str, str], body: BaseModel, user: StaffUser) -> None:
        assert isinstance(body, AssignBody)
        task_id = form.get("task_id", "").strip()
        if not task_id:
            raise ApiError(422, "invalid_input", "Invalid input — task_id: choose a task.")
        await assign_task(task_id, body, request, who(user))

    return await _act(request, ("assignee",), AssignBody, act, "task assigned")


@router.post("/team/reassign-account")
async def reassign_account_form(request: Request) -> Response:
    async def act(form: dict[str, str], body: BaseModel, user: StaffUser) -> None:
        assert isinstance(body, ReassignBody)
        loan_id = form.get("loan_id", "").strip()
        if not loan_id:
            raise ApiError(422, "invalid_input", "Invalid input — loan_id: name the account.")
        client = await require_temporal(request)
        await reassign_account(loan_id, body, request, who(user), client)

    return await _act(request, ("to", "reason"), ReassignBody, act, "account reassigned")
