"""The virtual clock on the desk (issue 20): under ARREARS_CLOCK=server (`arrears up
--virtual-time`) every page shows the virtual instant, and a supervisor can move it forward from
any page, for collector training: a week passes in a click, and every timer, task and window on
the way happens at its own moment.

The advance goes through the JSON API's own model and service (`AdvanceIn`, `advance` with the
app's advance lock), so it is validated, stepped and settled exactly as
`POST /v1/sandbox/clock/advance`. Under the system clock the banner is absent and the form's
address answers 404, like the JSON endpoint."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Role
from api.desk.views import (
    NotSignedIn,
    _check_csrf,
    _forbidden_page,
    _form,
    _safe_next,
    _signed_in,
    _to_sign_in,
)
from api.errors import ApiError
from api.routes.clock import AdvanceIn
from api.services.clock import advance_alone, target_of
from api.state import advance_lock, app_settings, business_now, require_temporal

router = APIRouter(prefix="/desk", include_in_schema=False)

CLOCK_FIELDS = ("days", "hours")


def _advance_of(form: dict[str, str]) -> AdvanceIn:
    """The form's days and hours as the API's body model (empty fields are left out)."""
    sent = {k: form[k].strip() for k in CLOCK_FIELDS if form.get(k, "").strip()}
    return AdvanceIn.model_validate(sent)


@router.post("/clock/advance")
async def advance_clock(request: Request) -> Response:
    settings = app_settings(request)
    if not settings.virtual_time:
        return _forbidden_page("The business clock is the system's: nobody may move it.", 404)
    try:
        user, _session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    form = await _form(request)
    await _check_csrf(request, form)
    if user.role != Role.SUPERVISOR:
        return _forbidden_page("Only a supervisor moves the virtual clock.")
    back = _safe_next(form.get("next"))
    try:
        body = _advance_of(form)
        target = target_of(await business_now(request), body.days, body.hours, body.until)
    except ValidationError as error:
        problem = "; ".join(str(e["msg"]) for e in error.errors())
        return _redirect(back, clock_error=f"days and hours must be whole numbers: {problem}")
    except ApiError as error:
        return _redirect(back, clock_error=error.message)
    client = await require_temporal(request)
    try:
        await advance_alone(advance_lock(request), client, settings, target)
    except ApiError as error:
        return _redirect(back, clock_error=error.message)
    return _redirect(back)


def _redirect(target: str, **query: str) -> RedirectResponse:
    if query:
        separator = "&" if "?" in target else "?"
        target = f"{target}{separator}{urlencode(query)}"
    return RedirectResponse(target, status_code=303)
