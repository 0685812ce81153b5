"""The desk's pages: sign-in, the collector's queue, a task with its outcome form, the account.

Every read and write goes through the JSON API's own route functions and services (called with
the signed-in person as the Principal), so the desk has no second path into the store or the
workflows: `list_tasks`, `claim_next_task` and `post_outcome` (api/routes/tasks.py),
`get_account` (api/routes/accounts.py), `list_messages`, the account search service and the
audit timeline. A refusal (an ApiError, or the outcome model's validation) is shown on the form
it came from, with what was typed kept.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import col, select

from api.auth import FailedAttempts, Principal, Role, client_of
from api.desk import gate, i18n
from api.desk.forms import OUTCOME_CHOICES, outcome_from_form
from api.desk.scripts import script_for
from api.desk.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    DeskSession,
    clear_session,
    csrf_valid,
    new_session,
    read_session,
    write_session,
)
from api.desk.users import StaffUser, authenticate, load_user
from api.errors import ApiError
from api.routes.letters import read_pdf
from api.routes.tasks import LEGAL_APPROVES, claim_next_task, list_tasks, post_outcome
from api.services.access import collector_may_act
from api.services.tasks import Task
from api.state import app_settings, business_now, database_url
from core.settings import Settings
from domain.money import quantize
from store.engine import as_utc, session_scope
from store.models import AccountRow, TaskRow
from store.staff import set_locale

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/desk", include_in_schema=False)
static = StaticFiles(directory=HERE / "static")

CREDITOR = "arrears"
"""The lender's name in call scripts (`{creditor}`)."""

GATE_HELPERS = {
    "countdown": gate.countdown,
    "task_gate": gate.task_gate,
    "cap_lines": gate.cap_lines,
}
"""What the queue's and the account's templates call to show the gate's answer."""

TIMELINE_ENTRIES = 200
"""The newest entries the account page shows (the auditors' export has them all)."""


def _sign_ins(request: Request) -> FailedAttempts:
    """Wrong passwords per client address, per API process: past 10 in 5 minutes, sign-in from
    that address waits (as unknown API keys do)."""
    limiter: FailedAttempts | None = getattr(request.app.state, "desk_sign_ins", None)
    if limiter is None:
        limiter = request.app.state.desk_sign_ins = FailedAttempts(limit=10, window=300.0)
    return limiter


class NotSignedIn(Exception):
    """No valid session: the page answers a redirect to the sign-in form."""


def local_time(at: datetime | None, zone: str | None) -> str:
    """An instant in the borrower's zone, with the zone named (what a collector dials by)."""
    if at is None:
        return "—"
    at = as_utc(at) or at
    tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M} ({zone or 'UTC'})"


def money(amount: Any, currency: str) -> str:
    """An amount with its currency's places (the store keeps four)."""
    return f"{quantize(Decimal(str(amount)), currency)} {currency}"


async def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    user: StaffUser | None,
    session: DeskSession,
    status: int = 200,
) -> HTMLResponse:
    locale = i18n.request_locale(request, user.locale if user else None)
    gettext = i18n.translations(locale).gettext
    if name == "task.html" and user is not None:
        # Every way to the task form (open, refused, resumed) shows the gate and the script.
        context = {**context, **await _task_extras(request, context["task"], user, locale)}
    # Under ARREARS_CLOCK=server every page says which virtual instant it was read at
    # (api/desk/clock.py moves it).
    virtual_now = await business_now(request) if app_settings(request).virtual_time else None
    response = templates.TemplateResponse(
        request,
        name,
        {
            **context,
            "_": gettext,
            "user": user,
            "csrf": session.csrf,
            "csrf_field": CSRF_FIELD,
            "locale": locale,
            "locales": i18n.LOCALES,
            "local_time": local_time,
            "money": money,
            "virtual_now": virtual_now,
            "clock_error": request.query_params.get("clock_error"),
        },
        status_code=status,
    )
    write_session(request, response, session)
    return response


async def _signed_in(request: Request) -> tuple[StaffUser, DeskSession]:
    session = read_session(request)
    if session is None or session.user is None:
        raise NotSignedIn
    user = await asyncio.to_thread(load_user, database_url(request), session.user)
    if user is None:
        raise NotSignedIn
    return user, session


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/desk/sign-in?next={quote(target)}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path of the desk itself: never an open redirect to another site."""
    if not target:
        return "/desk/queue"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/desk/"):
        return "/desk/queue"
    return target


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def _check_csrf(request: Request, form: dict[str, str]) -> DeskSession:
    session = read_session(request)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_valid(session, sent):
        raise ApiError(403, "forbidden", "The form's CSRF token is missing or not this session's.")
    assert session is not None
    return session


DRAFT_PREFIX = "draft."
"""Sign-in form fields that carry an interrupted form's values back to it."""


def _draft_of(form: dict[str, str]) -> dict[str, str]:
    return {k[len(DRAFT_PREFIX) :]: v for k, v in form.items() if k.startswith(DRAFT_PREFIX)}


Resume = Callable[[Request, StaffUser, str, dict[str, str]], Awaitable[Response]]
RESUMES: dict[str, Resume] = {}
"""Pages that come back with what was typed in them after a sign-in that an expired session
forced, by path prefix (`/desk/accounts/`: api/desk/account.py registers its own); the resumer
gets the rest of the path (e.g. the loan id) and the draft."""


def _resumed_page(target: str) -> tuple[Resume, str] | None:
    """The resumer for a `next` target, and the rest of its path, when one was registered."""
    path = urlsplit(target).path
    for prefix, resume in RESUMES.items():
        rest = path[len(prefix) :] if path.startswith(prefix) else ""
        if rest and "/" not in rest:
            return resume, unquote(rest)
    return None


def _task_of(target: str) -> str | None:
    """The task id of a `/desk/tasks/{task_id}` target, else None."""
    prefix = "/desk/tasks/"
    rest = urlsplit(target).path[len(prefix) :] if target.startswith(prefix) else ""
    return unquote(rest) if rest and "/" not in rest else None


def _forbidden_page(message: str, status: int = 403) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><title>arrears desk</title><main><h1>"
        f"{status}</h1><p>{html.escape(message)}</p><p><a href=/desk/>desk</a></p></main></html>"
    )
    return HTMLResponse(body, status_code=status)


def who(user: StaffUser) -> Principal:
    return Principal(user.role, user.username)


# --------------------------------------------------------------------------------- sign-in


@router.get("/")
async def desk_home(request: Request) -> Response:
    session = read_session(request)
    return RedirectResponse(
        "/desk/queue" if session and session.user else "/desk/sign-in", status_code=303
    )


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next: str | None = None, sso_error: str | None = None
) -> Response:
    session = read_session(request) or new_session()
    context = {
        "next": _safe_next(next),
        "error": None,
        "sso": sso_configured(request.app.state.settings),
        "sso_error": sso_error[:300] if sso_error else None,
    }
    return await _page(request, "sign_in.html", context, None, session)


def sso_configured(settings: Settings) -> bool:
    """Single sign-on (api/desk/oidc.py) is offered when its three settings are all set."""
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    session = await _check_csrf(request, form)
    target = _safe_next(form.get("next"))
    client = client_of(request)
    wait = _sign_ins(request).retry_after(client)
    if wait is not None:
        context = {"next": target, "error": "too_many", "wait": wait, "draft": _draft_of(form)}
        return await _page(request, "sign_in.html", context, None, session, status=429)
    user = await asyncio.to_thread(
        authenticate, database_url(request), form.get("username", ""), form.get("password", "")
    )
    draft = _draft_of(form)
    if user is None:
        _sign_ins(request).failed(client)
        context = {
            "next": target,
            "error": "wrong",
            "username": form.get("username", ""),
            "draft": draft,
        }
        return await _page(request, "sign_in.html", context, None, session, status=401)
    task_id = _task_of(target)
    if draft and task_id is not None:
        # Back to the form the expired session interrupted, with what was typed in it.
        task = await _task_or_refusal(request, user, task_id)
        if isinstance(task, HTMLResponse):
            return task
        context = {**_task_context(task, draft, None), "resumed": True}
        return await _page(request, "task.html", context, user, new_session(user.username))
    resumed = _resumed_page(target) if draft else None
    if resumed is not None:
        resume, rest = resumed
        return await resume(request, user, rest, draft)
    response = RedirectResponse(target, status_code=303)
    write_session(request, response, new_session(user.username))
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await _check_csrf(request, await _form(request))
    response = RedirectResponse("/desk/sign-in", status_code=303)
    clear_session(response)
    return response


@router.post("/language")
async def choose_language(request: Request) -> Response:
    form = await _form(request)
    session = await _check_csrf(request, form)
    chosen = i18n.known(form.get("locale"))
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    if chosen is None:
        return response
    if session.user is not None:
        await asyncio.to_thread(set_locale, database_url(request), session.user, chosen)
    response.set_cookie(i18n.LANG_COOKIE, chosen, path="/desk", samesite="lax", httponly=True)
    return response


# ----------------------------------------------------------------------------------- queue


async def _queue_context(request: Request, user: StaffUser) -> dict[str, Any]:
    principal = who(user)
    if user.role == Role.AUDITOR:
        return {"mine": [], "open": [], "later": [], "buckets": {}, "gates": {}, **GATE_HELPERS}
    everything = await list_tasks(
        request=request,
        kind=None,
        status=None,
        assignee=None,
        include_future=True,
        limit=200,
        cursor=None,
        who=principal,
        response=Response(),
    )
    now = await _now(request)
    # The legal team's queue is its lawsuit filing approvals, claimed or waiting for anyone
    # (issue 17 item 4): few, and each waits for a second pair of eyes.
    mine = [t for t in everything if t.assignee == user.username or user.role == Role.LEGAL]
    buckets = await asyncio.to_thread(_buckets, database_url(request), {t.loan_id for t in mine})
    open_now = [t for t in mine if t.not_before is None or t.not_before <= now]
    later = [t for t in mine if t.not_before is not None and t.not_before > now]
    gates = await gate.compliance_of(request, {t.loan_id for t in mine})
    return {
        "mine": mine,
        "open": open_now,
        "later": later,
        "now": now,
        "buckets": buckets,
        "gates": gates,
        **GATE_HELPERS,
    }


def _buckets(url: str, loan_ids: set[str]) -> dict[str, str]:
    """Each account's bucket now (a task's detail has the DPD it was issued at, not the bucket)."""
    if not loan_ids:
        return {}
    with session_scope(url) as session:
        rows = session.exec(select(AccountRow).where(col(AccountRow.loan_id).in_(loan_ids))).all()
        return {row.loan_id: row.bucket for row in rows}


async def _now(request: Request) -> datetime:
    return await business_now(request)


@router.get("/queue")
async def queue_page(request: Request, notice: str | None = None) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    context = await _queue_context(request, user)
    return await _page(request, "queue.html", {**context, "notice": notice}, user, session)


@router.post("/queue/claim-next")
async def claim_next(request: Request) -> Response:
    form = await _form(request)
    await _check_csrf(request, form)
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    try:
        task = await claim_next_task(request=request, kind=None, who=who(user))
    except ApiError as exc:
        if exc.code == "no_task":
            return RedirectResponse("/desk/queue?notice=no_task", status_code=303)
        raise
    return RedirectResponse(f"/desk/tasks/{quote(task.task_id)}", status_code=303)


# ------------------------------------------------------------------------------------ task


def _load_task(url: str, task_id: str) -> Task | None:
    with session_scope(url) as session:
        row = session.get(TaskRow, task_id)
        return Task.of(row) if row else None


def _holder(url: str, loan_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(AccountRow, loan_id)
        return row.assignee if row else None


async def _task_or_refusal(request: Request, user: StaffUser, task_id: str) -> Task | HTMLResponse:
    task = await asyncio.to_thread(_load_task, database_url(request), task_id)
    if task is None:
        return _forbidden_page(f"No task {task_id}.", 404)
    if user.role == Role.AUDITOR:
        return _forbidden_page("An auditor reads accounts; tasks are worked by collectors.")
    if user.role == Role.COLLECTOR and (
        task.kind == "approval" or task.assignee not in (None, user.username)
    ):
        return _forbidden_page(f"Task {task_id} is someone else's.")
    if user.role == Role.LEGAL and (
        task.detail.get("approves") != LEGAL_APPROVES or task.assignee not in (None, user.username)
    ):
        return _forbidden_page("The legal team works lawsuit filing approvals only.")
    return task


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    task = await _task_or_refusal(request, user, task_id)
    if isinstance(task, HTMLResponse):
        return task
    return await _page(request, "task.html", _task_context(task, {}, None), user, session)


async def _task_extras(
    request: Request, task: Task, user: StaffUser, locale: str
) -> dict[str, Any]:
    """What the contact rules allow on the task's channel now, and the call script for the
    account's contact profile and the task's stage in the desk's language (the store does not
    hold the borrower's)."""
    gates = await gate.compliance_of(request, [task.loan_id])
    status = gates.get(task.loan_id)
    script = None
    if status is not None and task.kind == "call":
        found = script_for(status.profile, str(task.detail.get("stage", "")), locale)
        if found is not None:
            title, text = found
            words = {
                "name": user.username,
                "creditor": CREDITOR,
                "amount": task.detail.get("amount_overdue", "—"),
            }
            script = {"title": title, "text": text.format_map(words)}
    return {**GATE_HELPERS, "gate": gate.task_gate(task, gates), "script": script}


def _task_context(
    task: Task, typed: dict[str, str], refusal: dict[str, Any] | None
) -> dict[str, Any]:
    choices = OUTCOME_CHOICES.get(task.kind, ())
    return {
        "task": task,
        "zone": task.detail.get("timezone"),
        "choices": choices,
        "typed": typed,
        "refusal": refusal,
    }


@router.post("/tasks/{task_id}/outcome")
async def record_outcome(request: Request, task_id: str) -> Response:
    form = await _form(request)
    current = read_session(request)
    if current is None or current.user is None:
        # The session expired while the form was being filled in: sign in again, carrying what
        # was typed in the sign-in form's body (never in a URL or a cookie), and come back to it.
        typed = {k: v for k, v in form.items() if k != CSRF_FIELD}
        context = {
            "next": f"/desk/tasks/{quote(task_id)}",
            "error": "expired",
            "draft": typed,
        }
        return await _page(request, "sign_in.html", context, None, new_session(), status=401)
    await _check_csrf(request, form)
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    task = await _task_or_refusal(request, user, task_id)
    if isinstance(task, HTMLResponse):
        return task
    typed = {k: v for k, v in form.items() if k != CSRF_FIELD}
    zone = task.detail.get("timezone")
    try:
        body = outcome_from_form(form, zone)
    except ValidationError as exc:
        refusal: dict[str, Any] = {
            "code": "invalid_input",
            "messages": [_field_error(e) for e in exc.errors()],
        }
        context = _task_context(task, typed, refusal)
        return await _page(request, "task.html", context, user, session, status=422)
    try:
        done = await post_outcome(task_id, body, request, who(user))
    except ApiError as exc:
        refusal = {"code": exc.code, "messages": [exc.message]}
        if exc.code == "task_not_open" and isinstance(exc.details, dict):
            opens = datetime.fromisoformat(str(exc.details["not_before"]))
            refusal["next_allowed"] = local_time(opens, zone)
        context = _task_context(task, typed, refusal)
        return await _page(request, "task.html", context, user, session, status=exc.status)
    notice = quote(f"{done.outcome and done.outcome.get('outcome')}: {done.effect or ''}")
    return RedirectResponse(f"/desk/accounts/{quote(task.loan_id)}?notice={notice}", 303)


def _field_error(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", ""))
    return f"{where}: {message}" if where else message


# --------------------------------------------------------------------------------- letters
# (the account page itself is api/desk/account.py)


@router.get("/accounts/{loan_id}/letters/{letter_id}.pdf")
async def letter_pdf_page(request: Request, loan_id: str, letter_id: str) -> Response:
    """A letter's PDF for the desk's session: the same read (and sha256 check) as the JSON
    API's `GET /v1/accounts/{loan_id}/letters/{letter_id}.pdf`, the same rule of who may read."""
    try:
        user, _session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    holder = await asyncio.to_thread(_holder, database_url(request), loan_id)
    if not collector_may_act(who(user), holder):
        return _forbidden_page(f"Account {loan_id} is held by {holder}.")
    data_dir = Path(request.app.state.settings.data_dir)
    try:
        body = await asyncio.to_thread(
            read_pdf, database_url(request), data_dir, loan_id, letter_id
        )
    except ApiError as exc:
        return _forbidden_page(exc.message, exc.status)
    headers = {"Content-Disposition": f'inline; filename="{letter_id}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)
