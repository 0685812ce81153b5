"""The desk's account page (issue 15) and what a person does from it beside a task's outcome:
notes, a hardship, a dispute, a complaint, bankruptcy, a death, an attorney, a request to
cease communication, contact details, the answer to an open restructure offer, and the release
of a hold.

Every write goes through the JSON API's own route function for it, called with the signed-in
person as the Principal (found by its route name, so the desk cannot drift from the endpoint):
the same model, the same workflow update and validator, the same refusals. Notes are written by
the notes route into the store: a note is not a business fact, so no workflow hears of it. A
refusal (the model's validation, a 409 from the workflow, a 403) is shown on the form it came
from, with every field keeping what was typed.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import partial
from typing import Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ValidationError
from sqlmodel import col, select
from temporalio.client import Client

from api.auth import Role
from api.desk import gate
from api.desk.account_forms import ACTIONS, RELEASE_ROUTE, body_of, note, release
from api.desk.session import DeskSession, new_session, read_session
from api.desk.users import StaffUser
from api.desk.views import (
    CSRF_FIELD,
    GATE_HELPERS,
    RESUMES,
    TIMELINE_ENTRIES,
    NotSignedIn,
    _check_csrf,
    _field_error,
    _forbidden_page,
    _form,
    _holder,
    _page,
    _signed_in,
    _to_sign_in,
    who,
)
from api.errors import ApiError
from api.routes.accounts import get_account
from api.routes.holds import SUPERVISOR_RELEASES
from api.routes.letters import read_letters
from api.routes.messages import list_messages
from api.routes.notes import get_notes, post_note
from api.services.access import collector_may_act
from api.services.tasks import Task
from api.state import database_url, require_temporal
from audit.timeline import build_timeline
from store.engine import session_scope
from store.models import AccountRow, PaymentRow, PromiseRow, TaskRow
from store.staff import AccountDirectoryRow
from workflows.contracts import HoldKindIn

router = APIRouter(prefix="/desk", include_in_schema=False)

HOLD_KINDS = frozenset(get_args(HoldKindIn))
"""The holds a release form may name (the JSON route's path values)."""

NOTES_SHOWN = 50
"""The newest notes the page lists (the JSON listing pages through all of them)."""


def _account_records(url: str, loan_id: str) -> dict[str, Any]:
    with session_scope(url) as session:
        account = session.get(AccountRow, loan_id)
        payments = session.exec(
            select(PaymentRow)
            .where(PaymentRow.loan_id == loan_id)
            .order_by(col(PaymentRow.paid_at))
        ).all()
        promises = session.exec(
            select(PromiseRow)
            .where(PromiseRow.loan_id == loan_id)
            .order_by(col(PromiseRow.made_at))
        ).all()
        tasks = session.exec(
            select(TaskRow).where(TaskRow.loan_id == loan_id).order_by(col(TaskRow.created_at))
        ).all()
        entry = session.get(AccountDirectoryRow, loan_id)
        return {
            "row": account,
            "phone_endings": entry.phone_endings.split() if entry else [],
            # The borrower page's key (the loan id when the loan system sent no borrower id).
            "borrower_id": entry.borrower_id if entry else None,
            "payments": list(payments),
            "promises": list(promises),
            "tasks": [Task.of(t) for t in tasks],
        }


async def _refused_to(request: Request, user: StaffUser, loan_id: str) -> HTMLResponse | None:
    """The 403 page for a collector on an account someone else holds, else None."""
    holder = await asyncio.to_thread(_holder, database_url(request), loan_id)
    if collector_may_act(who(user), holder):
        return None
    return _forbidden_page(
        f"Account {loan_id} is held by {holder}; a collector sees only "
        "the accounts they hold or nobody holds."
    )


async def _account_context(
    request: Request, user: StaffUser, loan_id: str
) -> dict[str, Any] | HTMLResponse:
    """Everything the account page shows, or the 403/404 page."""
    refused = await _refused_to(request, user, loan_id)
    if refused is not None:
        return refused
    url = database_url(request)
    principal = who(user)
    records = await asyncio.to_thread(_account_records, url, loan_id)
    if records["row"] is None:
        return _forbidden_page(f"No account {loan_id} is known.", 404)
    client: Client | None
    try:
        client = await require_temporal(request)
        status = await get_account(loan_id, request, principal, client)
    except ApiError:
        client, status = None, None
    messages = await list_messages(
        loan_id=loan_id, request=request, response=Response(), limit=50, cursor=None, _who=principal
    )
    notes = await get_notes(
        loan_id=loan_id,
        request=request,
        response=Response(),
        limit=NOTES_SHOWN,
        cursor=None,
        _who=principal,
    )
    # The explained timeline (the auditors' endpoint's builder; phone numbers in it are masked).
    timeline = await build_timeline(client, url, loan_id)
    gates = await gate.compliance_of(request, [loan_id]) if status is not None else {}
    letters = await asyncio.to_thread(read_letters, url, loan_id)
    plan = status.restructure if status is not None else None
    supervisor = user.role == Role.SUPERVISOR
    return {
        **records,
        "letters": letters or [],
        **GATE_HELPERS,
        "compliance": gates.get(loan_id),
        "loan_id": loan_id,
        "status": status,
        "zone": records["row"].timezone,
        "messages": messages,
        "notes": notes,
        "timeline": timeline.entries[-TIMELINE_ENTRIES:] if timeline else [],
        "phone_endings": records["phone_endings"],
        "acts": user.role in (Role.COLLECTOR, Role.SUPERVISOR),
        # A collector's page offers no release of the holds only a supervisor may end; a grace
        # period ends by itself: only the kinds the release route takes get a button.
        "supervisor_releases": frozenset() if supervisor else SUPERVISOR_RELEASES,
        "releasable": HOLD_KINDS if supervisor else HOLD_KINDS - SUPERVISOR_RELEASES,
        "offer_open": plan is not None and plan.stage == "offered",
        "typed": {},
        "refusal": None,
    }


@router.get("/accounts/{loan_id}")
async def account_page(request: Request, loan_id: str, notice: str | None = None) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    context = await _account_context(request, user, loan_id)
    if isinstance(context, HTMLResponse):
        return context
    return await _page(request, "account.html", {**context, "notice": notice}, user, session)


async def _shown_refusal(
    request: Request,
    user: StaffUser,
    session: DeskSession,
    loan_id: str,
    form_name: str,
    typed: dict[str, str],
    refusal: dict[str, Any],
    status: int,
) -> Response:
    """The account page again, the refusal on the form it came from, what was typed kept."""
    context = await _account_context(request, user, loan_id)
    if isinstance(context, HTMLResponse):
        return context
    context.update(typed=typed, refusal={**refusal, "form": form_name}, notice=None)
    return await _page(request, "account.html", context, user, session, status=status)


async def _resume(
    request: Request, user: StaffUser, loan_id: str, draft: dict[str, str]
) -> Response:
    """After a sign-in that an expired session forced: the account page, every form holding
    what was typed in it, nothing recorded yet."""
    context = await _account_context(request, user, loan_id)
    if isinstance(context, HTMLResponse):
        return context
    context.update(typed=draft, resumed=True, notice=None)
    return await _page(request, "account.html", context, user, new_session(user.username))


RESUMES["/desk/accounts/"] = _resume


def _validation_refusal(exc: ValueError) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        messages = [_field_error(e) for e in exc.errors()]
    else:
        messages = [str(exc)]
    return {"code": "invalid_input", "messages": messages}


async def _acting(
    request: Request, loan_id: str
) -> tuple[StaffUser, DeskSession, dict[str, str]] | Response:
    """The posted form of someone who may act on the account, or the page that says why not."""
    form = await _form(request)
    current = read_session(request)
    if current is None or current.user is None:
        # The session ended while the form was open: nothing is recorded; sign in again and
        # come back to the account page with what was typed, carried in the sign-in form's
        # body (never in a URL or a cookie), as the task form does.
        context = {
            "next": f"/desk/accounts/{quote(loan_id)}",
            "error": "expired",
            "draft": {k: v for k, v in form.items() if k != CSRF_FIELD},
        }
        return await _page(request, "sign_in.html", context, None, new_session(), status=401)
    await _check_csrf(request, form)
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return RedirectResponse(f"/desk/sign-in?next=/desk/accounts/{quote(loan_id)}", 303)
    if user.role not in (Role.COLLECTOR, Role.SUPERVISOR):
        return _forbidden_page("Only collectors and supervisors act on accounts.")
    refused = await _refused_to(request, user, loan_id)
    if refused is not None:
        return refused
    return user, session, {k: v for k, v in form.items() if k != CSRF_FIELD}


def _route(request: Request, name: str) -> Any:
    """The JSON API's endpoint function by its route name."""
    for route in iter_route_contexts(request.app.routes):
        if route.name == name:
            return route.endpoint
    raise LookupError(f"no API route named {name}")  # pragma: no cover


async def _call(endpoint: Any, available: dict[str, Any]) -> dict[str, Any]:
    """Call a route function with the arguments it declares, from what the desk has."""
    wanted = inspect.signature(endpoint).parameters
    result: dict[str, Any] = await endpoint(**{k: v for k, v in available.items() if k in wanted})
    return result


@router.post("/accounts/{loan_id}/notes")
async def write_note(request: Request, loan_id: str) -> Response:
    acting = await _acting(request, loan_id)
    if isinstance(acting, Response):
        return acting
    user, session, typed = acting
    try:
        await post_note(loan_id, note(typed), request, who(user))
    except ValueError as exc:
        refusal = _validation_refusal(exc)
        return await _shown_refusal(request, user, session, loan_id, "note", typed, refusal, 422)
    except ApiError as exc:
        refusal = {"code": exc.code, "messages": [exc.message]}
        return await _shown_refusal(
            request, user, session, loan_id, "note", typed, refusal, exc.status
        )
    return RedirectResponse(f"/desk/accounts/{quote(loan_id)}?notice=note", status_code=303)


@router.post("/accounts/{loan_id}/actions/{name}")
async def take_action(request: Request, loan_id: str, name: str) -> Response:
    if name not in ACTIONS:
        return _forbidden_page(f"No action {name}.", 404)
    return await _act(request, loan_id, name, partial(body_of, name), ACTIONS[name].route, {})


@router.post("/accounts/{loan_id}/holds/{kind}/release")
async def release_a_hold(request: Request, loan_id: str, kind: str) -> Response:
    """End a hold from its button on the account page: the JSON API's release route decides
    (a collector may not end a bankruptcy or deceased hold; a hold the account does not have is
    the workflow validator's 409), and its refusal shows on that hold's form."""
    if kind not in HOLD_KINDS:
        return _forbidden_page(f"No hold kind {kind}.", 404)
    return await _act(
        request, loan_id, f"release-{kind}", release(kind), RELEASE_ROUTE, {"kind": kind}
    )


async def _act(
    request: Request,
    loan_id: str,
    name: str,
    read: Any,
    route: str,
    extra: dict[str, Any],
) -> Response:
    """Read the posted form into the JSON endpoint's model and call that endpoint; a refusal
    back on the form `name` with what was typed kept, else the account page with a notice."""
    acting = await _acting(request, loan_id)
    if isinstance(acting, Response):
        return acting
    user, session, typed = acting
    try:
        body: BaseModel = read(typed)
    except ValueError as exc:
        refusal = _validation_refusal(exc)
        return await _shown_refusal(request, user, session, loan_id, name, typed, refusal, 422)
    try:
        client = await require_temporal(request)
        done = await _call(
            _route(request, route),
            {
                "loan_id": loan_id,
                "body": body,
                "who": who(user),
                "client": client,
                "request": request,
                **extra,
            },
        )
    except ApiError as exc:
        refusal = {"code": exc.code, "messages": [exc.message]}
        return await _shown_refusal(
            request, user, session, loan_id, name, typed, refusal, exc.status
        )
    said = done.get("effect") or done.get("decision") or "recorded"
    notice = quote(f"{name}: {said}")
    return RedirectResponse(f"/desk/accounts/{quote(loan_id)}?notice={notice}", status_code=303)
