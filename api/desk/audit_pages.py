"""The desk's search and the auditor's pages (issue 15).

- `/desk/search` (every role): the JSON API's account search (api/services/search.py, the same
  filter a collector is held to: accounts they hold or nobody holds), paged by its cursor.
- `/desk/audit/{loan_id}` (auditors and supervisors): the whole explained timeline (the
  auditors' endpoint's builder, audit/timeline), a link exporting the Temporal history
  (auditors: the route function of `GET /v1/accounts/{loan_id}/history`, encrypted payloads) and a
  replay of the account's histories against the running code (audit/replay.py, what `arrears
  replay` does), its result per run on the page.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import Role
from api.desk.views import (
    NotSignedIn,
    _check_csrf,
    _forbidden_page,
    _form,
    _page,
    _signed_in,
    _to_sign_in,
    who,
)
from api.errors import ApiError
from api.routes.audit import get_history
from api.services.search import AccountFilter, BadCursor, decode_cursor, search_accounts
from api.state import database_url, require_temporal
from audit.replay import histories_of_workflows, replay_histories
from audit.timeline import build_timeline
from workflows.contracts import workflow_id_for

router = APIRouter(prefix="/desk", include_in_schema=False)

FILTERS = ("q", "state", "bucket", "stage", "holder", "borrower_id")
PAGE = 50


@router.get("/search")
async def search_page(request: Request) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    typed = {f: (request.query_params.get(f) or "").strip()[:100] for f in FILTERS}
    cursor = request.query_params.get("cursor") or None
    context: dict[str, Any] = {"typed": typed, "page": None, "refusal": None}
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        context["refusal"] = {"code": "invalid_input", "messages": [f"cursor: {exc}"]}
        return await _page(request, "search.html", context, user, session, status=422)
    if any(typed.values()) or cursor:
        where = AccountFilter(
            **{f: typed[f] or None for f in FILTERS},
            viewer=user.username if user.role == Role.COLLECTOR else None,
        )
        context["page"] = await asyncio.to_thread(
            search_accounts, database_url(request), where, after, PAGE
        )
    return await _page(request, "search.html", context, user, session)


async def _overseer(request: Request) -> tuple[Any, Any] | Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    if user.role not in (Role.AUDITOR, Role.SUPERVISOR):
        return _forbidden_page("The audit pages are for auditors and supervisors.")
    return user, session


async def _audit_page(
    request: Request, loan_id: str, user: Any, session: Any, replay: Any = None
) -> Response:
    try:
        client = await require_temporal(request)
    except ApiError:
        client = None
    timeline = await build_timeline(client, database_url(request), loan_id)
    if timeline is None:
        return _forbidden_page(f"No account {loan_id} is known.", 404)
    context = {"loan_id": loan_id, "timeline": timeline, "replay": replay}
    return await _page(request, "audit.html", context, user, session)


@router.get("/audit/{loan_id}")
async def audit_page(request: Request, loan_id: str) -> Response:
    signed = await _overseer(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    return await _audit_page(request, loan_id, user, session)


@router.get("/audit/{loan_id}/history.json")
async def history_export(request: Request, loan_id: str) -> Response:
    """The account's histories as `GET /v1/accounts/{loan_id}/history` answers them (payloads
    encrypted), as a download; the API's own rule: auditors only."""
    signed = await _overseer(request)
    if isinstance(signed, Response):
        return signed
    user, _session = signed
    if user.role != Role.AUDITOR:
        return _forbidden_page("Exporting histories is an auditor's.")
    try:
        client = await require_temporal(request)
        document = await get_history(
            loan_id=loan_id,
            request=request,
            decrypted=False,
            run_id=None,
            output="envelope",
            _who=who(user),
            client=client,
            settings=request.app.state.settings,
        )
    except ApiError as exc:
        return _forbidden_page(exc.message, exc.status)
    body = json.dumps(document, ensure_ascii=False, default=str)
    headers = {"Content-Disposition": f'attachment; filename="{loan_id}-history.json"'}
    return Response(body, media_type="application/json", headers=headers)


@router.post("/audit/{loan_id}/replay")
async def replay_account(request: Request, loan_id: str) -> Response:
    """Replay every run and child of the account's current episode against this process's
    workflow code, as `arrears replay --workflow-id` does; the result per run on the page."""
    form = await _form(request)
    await _check_csrf(request, form)
    signed = await _overseer(request)
    if isinstance(signed, Response):
        return signed
    user, session = signed
    try:
        client = await require_temporal(request)
        histories = await histories_of_workflows(client, [workflow_id_for(loan_id)])
        report = await replay_histories(histories, request.app.state.settings)
    except ApiError as exc:
        return _forbidden_page(exc.message, exc.status)
    except Exception as exc:  # an unknown workflow, a server that went away: said on the page
        return await _audit_page(request, loan_id, user, session, {"error": str(exc)})
    return await _audit_page(request, loan_id, user, session, report)
