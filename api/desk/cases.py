"""The supervisor's dispute and complaint pages of the desk (issue 15 "disputes and complaints
with their deadlines"; issue 17 item 7): the open cases by deadline, in the borrower's local
time with a countdown and the overdue ones marked, and one case with its evidence, an evidence
form and a resolve form.

Reads and writes go through the same services as the JSON API (api/services/cases.py): the
store for reads, the account's workflow (`case_evidence`, `resolve_case`) for writes, so a
refusal (409 resolved already, 422 an adjustment above the balance) is the API's, shown on the
form with what was typed kept. Supervisors work cases; auditors may read them; others get 403.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Role
from api.desk.gate import Gettext, span
from api.desk.users import StaffUser
from api.desk.views import (
    NotSignedIn,
    _check_csrf,
    _field_error,
    _forbidden_page,
    _form,
    _page,
    _signed_in,
    _to_sign_in,
)
from api.desk.words import N_
from api.errors import ApiError
from api.routes.cases import EvidenceBody, ResolutionBody
from api.services.cases import (
    CaseView,
    add_evidence,
    cases_page,
    find_case,
    resolve_case,
    until_recorded,
)
from api.state import business_now, database_url, require_temporal
from domain.cases import CaseKind

router = APIRouter(prefix="/desk", include_in_schema=False)

READERS = (Role.SUPERVISOR, Role.AUDITOR)

# The case vocabulary the pages translate (kinds and statuses come from the store).
CASE_WORDS = (N_("dispute"), N_("complaint"), N_("upheld"), N_("rejected"))
SHOWN = 200


def deadline_countdown(case: CaseView, now: datetime, _: Gettext) -> str:
    """`answer within 3 d 4 h`, or `overdue by 2 d 1 h` (resolved cases: nothing to count)."""
    if case.status != "open":
        return _("resolved")
    left = (case.deadline - now).total_seconds()
    if left <= 0:
        return _("overdue by %(span)s") % {"span": span(-left, _)}
    return _("answer within %(span)s") % {"span": span(left, _)}


async def _reader(request: Request) -> tuple[StaffUser, Any] | Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    if user.role not in READERS:
        return _forbidden_page("Disputes and complaints are worked by supervisors.")
    return user, session


@router.get("/cases")
async def cases_list_page(request: Request, kind: str | None = None) -> Response:
    signed = await _reader(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    now = await business_now(request)
    chosen: CaseKind | None = (
        "dispute" if kind == "dispute" else "complaint" if kind == "complaint" else None
    )
    cases, _next = await asyncio.to_thread(
        cases_page, database_url(request), now, "open", chosen, None, None, SHOWN
    )
    context = {
        "cases": cases,
        "kind": chosen,
        "now": now,
        "overdue": sum(1 for c in cases if c.overdue),
        "deadline_countdown": deadline_countdown,
    }
    return await _page(request, "cases.html", context, user, session)


async def _case_page(
    request: Request,
    user: StaffUser,
    session: Any,
    case_id: str,
    notice: str | None = None,
    refusal: dict[str, Any] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    now = await business_now(request)
    try:
        case = await asyncio.to_thread(find_case, database_url(request), case_id, now)
    except ApiError as exc:
        return _forbidden_page(exc.message, exc.status)
    context = {
        "case": case,
        "now": now,
        "notice": notice,
        "refusal": refusal,
        "typed": typed or {},
        "deadline_countdown": deadline_countdown,
    }
    return await _page(request, "case.html", context, user, session, status=status)


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str, notice: str | None = None) -> Response:
    signed = await _reader(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    return await _case_page(request, user, session, case_id, notice=notice)


async def _act(request: Request, case_id: str, fields: tuple[str, ...], act: Any) -> Response:
    """Read the form, act through the API's service, and show a refusal on the case page
    with what was typed kept; a supervisor's only."""
    form = await _form(request)
    await _check_csrf(request, form)
    signed = await _reader(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    if user.role != Role.SUPERVISOR:
        return _forbidden_page("Only a supervisor works a case.")
    typed = {k: v for k, v in form.items() if k in fields}
    try:
        done = await act({k: v.strip() for k, v in typed.items() if v.strip()}, user)
    except ValidationError as exc:
        refusal = {"code": "invalid_input", "messages": [_field_error(e) for e in exc.errors()]}
        return await _case_page(
            request, user, session, case_id, refusal=refusal, typed=typed, status=422
        )
    except ApiError as exc:
        refusal = {"code": exc.code, "messages": [exc.message]}
        return await _case_page(
            request, user, session, case_id, refusal=refusal, typed=typed, status=exc.status
        )
    return RedirectResponse(f"/desk/cases/{quote(case_id)}?notice={quote(done)}", status_code=303)


@router.post("/cases/{case_id}/evidence")
async def evidence_form(request: Request, case_id: str) -> Response:
    async def act(values: dict[str, str], user: StaffUser) -> str:
        body = EvidenceBody.model_validate(values)
        url = database_url(request)
        before = await asyncio.to_thread(find_case, url, case_id, await business_now(request))
        await add_evidence(
            await require_temporal(request),
            database_url(request),
            case_id,
            body.text,
            body.document,
            user.username,
            await business_now(request),
        )
        await until_recorded(
            url, case_id, await business_now(request), evidence=len(before.evidence or [])
        )
        return "evidence added"

    return await _act(request, case_id, ("text", "document"), act)


@router.post("/cases/{case_id}/resolution")
async def resolution_form(request: Request, case_id: str) -> Response:
    async def act(values: dict[str, str], user: StaffUser) -> str:
        body = ResolutionBody.model_validate(values)
        await resolve_case(
            await require_temporal(request),
            database_url(request),
            case_id,
            body.resolution,
            body.adjustment,
            body.notes,
            user.username,
            await business_now(request),
        )
        await until_recorded(database_url(request), case_id, await business_now(request))
        return f"case {body.resolution}"

    return await _act(request, case_id, ("resolution", "adjustment", "notes"), act)
