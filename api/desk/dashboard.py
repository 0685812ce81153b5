"""The dashboard (`/desk/dashboard`, supervisors and auditors; issue 15): roll rates, cure rates
by bucket, the promise-kept and right-party-contact rates, contacts by hour and channel,
collector productivity and the agency league table for a chosen period — each an SVG chart
(api/desk/charts.py) with its numbers beside it.

The figures are the JSON API's own: the page calls the route functions of
`/v1/reports/roll-rates`, `/v1/reports/cure-rates` and `/v1/reports/operations`, so a bad period
is refused with the API's message, shown on the page.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import Role
from api.desk import i18n
from api.desk.charts import bar_chart
from api.desk.views import NotSignedIn, _forbidden_page, _page, _signed_in, _to_sign_in, who
from api.errors import ApiError
from api.routes.reports import cure_rates, operations, roll_rates
from api.state import business_now
from domain.calendar import local_date

router = APIRouter(prefix="/desk", include_in_schema=False)

BUCKETS = ("current", "M1", "M2", "M3", "M4+")
WORSE = {b: BUCKETS[i + 1 :] + ("written_off",) for i, b in enumerate(BUCKETS)}
"""Where an account in each bucket rolls forward to (a worse bucket, or written off)."""


def _period(request: Request, today: date) -> tuple[str, str, str]:
    """The period asked for (as typed), by default the three months up to today, in UTC."""
    first = (today.replace(day=1) - timedelta(days=62)).replace(day=1)
    query = request.query_params
    return (
        query.get("from") or first.isoformat(),
        query.get("to") or today.isoformat(),
        query.get("tz") or "UTC",
    )


def roll_forward(rates: dict[str, dict[str, float]]) -> list[tuple[str, float]]:
    """Each bucket's share that rolled to a worse status by the next month end."""
    return [(b, round(sum(rates.get(b, {}).get(w, 0.0) for w in WORSE[b]), 4)) for b in BUCKETS]


def charts(roll: Any, cures: Any, ops: Any, _: Any) -> dict[str, Any]:
    by_bucket = cures.overall.by_bucket
    hours = [(f"{int(h):02d}:00", float(sum(c.values()))) for h, c in ops.by_hour.items()]
    return {
        "roll_chart": bar_chart(
            "chart-roll", _("Roll-forward rate by bucket"), roll_forward(roll.overall.rates), True
        ),
        "cure_chart": bar_chart(
            "chart-cure",
            _("Cure rate by bucket"),
            [(b, v.rate) for b, v in by_bucket.items()],
            True,
        ),
        "rates_chart": bar_chart(
            "chart-rates",
            _("Promise-kept and right-party-contact rates"),
            [(_("promises kept"), ops.promises.kept_rate), (_("right-party"), ops.contacts.rate)],
            True,
        ),
        "hours_chart": bar_chart("chart-hours", _("Contacts by local hour"), hours, False),
        "people_chart": bar_chart(
            "chart-people",
            _("Calls and visits worked per person"),
            [(p.person, float(p.worked)) for p in ops.productivity],
            False,
        ),
        "agency_chart": bar_chart(
            "chart-agencies",
            _("Agency recovery rate"),
            [(a.name, a.rate) for a in ops.agencies],
            True,
        ),
    }


@router.get("/dashboard")
async def dashboard_page(request: Request) -> Response:
    try:
        user, session = await _signed_in(request)
    except NotSignedIn:
        return _to_sign_in(request)
    if user.role not in (Role.SUPERVISOR, Role.AUDITOR):
        return _forbidden_page("The dashboard is for supervisors and auditors.")
    today = local_date(await business_now(request), "UTC")
    start, end, tz = _period(request, today)
    context: dict[str, Any] = {"period": {"from": start, "to": end, "tz": tz}, "refusal": None}
    principal = who(user)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        roll = await roll_rates(
            request=request,
            from_=first,
            to=last,
            tz=tz,
            arm=None,
            experiment=None,
            _principal=principal,
        )
        cures = await cure_rates(
            request=request,
            from_=first,
            to=last,
            tz=tz,
            arm=None,
            experiment=None,
            _principal=principal,
        )
        ops = await operations(request=request, from_=first, to=last, tz=tz, _principal=principal)
    except ValueError as exc:
        context["refusal"] = {"code": "invalid_input", "messages": [f"from/to: {exc}"]}
        return await _page(request, "dashboard.html", context, user, session, status=422)
    except ApiError as exc:
        context["refusal"] = {"code": exc.code, "messages": [exc.message]}
        return await _page(request, "dashboard.html", context, user, session, status=exc.status)
    gettext = i18n.translations(i18n.request_locale(request, user.locale)).gettext
    context.update(
        roll=roll, cures=cures, ops=ops, buckets=BUCKETS, **charts(roll, cures, ops, gettext)
    )
    context["roll_forward"] = dict(roll_forward(roll.overall.rates))
    return await _page(request, "dashboard.html", context, user, session)
