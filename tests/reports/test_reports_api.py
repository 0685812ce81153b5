"""`GET /v1/reports/roll-rates` and `/v1/reports/cure-rates` computed from the store's transition
records (rows written here), overall and per arm; who may read them; what is refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from store.engine import session_scope
from store.models import TransitionRow
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.reports.conftest import add_transitions, assign, at

ZERO = {"current": 0, "M1": 0, "M2": 0, "M3": 0, "M4+": 0, "written_off": 0, "closed": 0}
DECEMBER_JANUARY = "from=2026-12-01&to=2027-01-31"


def portfolio(url: str) -> None:
    """Six accounts around the month ends of Nov 30, Dec 31 and Jan 31 (UTC); A and B in the
    champion arm, D, E and F in the challenger arm, C in no experiment."""
    add_transitions(
        url,
        "A",
        ("2026-11-20", "delinquent", "M1"),
        ("2026-12-20", "delinquent", "M2"),
        ("2027-01-19", "delinquent", "M3"),
    )
    add_transitions(
        url, "B", ("2026-11-25", "delinquent", "M1"), ("2026-12-05", "cured", "current")
    )
    add_transitions(url, "C", ("2026-11-02", "paid_on_time", "current"))
    add_transitions(
        url, "D", ("2026-11-28", "delinquent", "M1"), ("2027-01-15", "written_off", "M1")
    )
    add_transitions(
        url, "E", ("2026-12-10", "delinquent", "M1"), ("2027-01-08", "restructured", "current")
    )
    add_transitions(
        url, "F", ("2026-12-03", "delinquent", "M1"), ("2026-12-28", "cured", "current")
    )
    for loan in ("A", "B"):
        assign(url, loan, "champion")
    for loan in ("D", "E", "F"):
        assign(url, loan, "challenger")


async def get_ok(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(path, headers=SUPERVISOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_roll_rates_count_accounts_from_each_month_end_to_the_next_in_the_period(
    reports_api: httpx.AsyncClient, database_url: str
) -> None:
    portfolio(database_url)
    body = await get_ok(reports_api, f"/v1/reports/roll-rates?{DECEMBER_JANUARY}")
    assert body["from"] == "2026-12-01" and body["to"] == "2027-01-31" and body["tz"] == "UTC"
    assert body["statuses"] == list(ZERO)
    # December's roll starts at the November month end.
    assert body["month_ends"] == ["2026-11-30", "2026-12-31", "2027-01-31"]
    overall = body["overall"]
    # Nov 30: A, B, D in M1, C current. Dec 31: A M2, B C F current, D E M1.
    assert overall["totals"] == {**ZERO, "current": 1 + 3, "M1": 3 + 2, "M2": 1}
    assert overall["counts"]["M1"] == {**ZERO, "current": 2, "M1": 1, "M2": 1, "written_off": 1}
    assert overall["counts"]["M2"] == {**ZERO, "M3": 1}
    assert overall["counts"]["current"] == {**ZERO, "current": 4}
    assert overall["rates"]["M1"]["current"] == pytest.approx(0.4)
    assert overall["rates"]["M3"] == ZERO  # an empty row
    for row, total in overall["totals"].items():
        assert sum(overall["counts"][row].values()) == total


async def test_cure_rates_are_of_the_accounts_that_became_delinquent_in_the_period(
    reports_api: httpx.AsyncClient, database_url: str
) -> None:
    portfolio(database_url)
    december = await get_ok(reports_api, "/v1/reports/cure-rates?from=2026-12-01&to=2026-12-31")
    overall = december["overall"]
    # E and F became delinquent in December; F paid on Dec 28, E restructured only in January.
    assert (overall["became_delinquent"], overall["cured_total"]) == (2, 1)
    assert overall["rate"] == 0.5
    assert overall["outcomes"] == {
        "cured": 1,
        "restructured": 0,
        "written_off": 0,
        "closed": 0,
        "delinquent": 1,
    }
    # A (delinquent since November) entered M2 in December and is not back.
    assert overall["by_bucket"]["M1"] == {"entered": 2, "cured": 1, "rate": 0.5}
    assert overall["by_bucket"]["M2"] == {"entered": 1, "cured": 0, "rate": 0.0}
    assert len(overall["cure_curve"]) == 26 and overall["cure_curve"][24:] == [0.0, 0.5]
    both = await get_ok(reports_api, f"/v1/reports/cure-rates?{DECEMBER_JANUARY}")
    assert both["overall"]["outcomes"]["restructured"] == 1 and both["overall"]["rate"] == 1.0


async def test_reports_split_by_arm_and_accounts_in_no_experiment_count_only_overall(
    reports_api: httpx.AsyncClient, database_url: str
) -> None:
    portfolio(database_url)
    rolls = await get_ok(reports_api, f"/v1/reports/roll-rates?{DECEMBER_JANUARY}")
    assert list(rolls["arms"]) == ["challenger", "champion"]
    champion, challenger = rolls["arms"]["champion"], rolls["arms"]["challenger"]
    assert champion["strategies"] == ["default@1"]
    assert challenger["strategies"] == ["front_light@1"]
    assert champion["counts"]["M1"] == {**ZERO, "current": 1, "M2": 1}  # B cured, A rolled
    assert challenger["counts"]["M1"] == {**ZERO, "current": 1, "M1": 1, "written_off": 1}
    # Current at the earlier month ends: C twice (in no experiment), B and F once each.
    assert (champion["totals"]["current"], challenger["totals"]["current"]) == (1, 1)
    assert rolls["overall"]["totals"]["current"] == 4
    cures = await get_ok(reports_api, "/v1/reports/cure-rates?from=2026-12-01&to=2026-12-31")
    assert cures["arms"]["champion"]["became_delinquent"] == 0
    assert cures["arms"]["challenger"]["became_delinquent"] == 2
    assert cures["arms"]["challenger"]["strategies"] == ["front_light@1"]
    only = await get_ok(reports_api, f"/v1/reports/roll-rates?{DECEMBER_JANUARY}&arm=champion")
    assert list(only["arms"]) == ["champion"] and only["overall"] == rolls["overall"]
    other = await get_ok(
        reports_api, f"/v1/reports/cure-rates?{DECEMBER_JANUARY}&experiment=default@1:other@1"
    )
    assert (
        other["arms"] == {}
        and other["overall"]
        == (await get_ok(reports_api, f"/v1/reports/cure-rates?{DECEMBER_JANUARY}"))["overall"]
    )


async def test_month_ends_follow_the_time_zone_asked_for(
    reports_api: httpx.AsyncClient, database_url: str
) -> None:
    # 10:00 UTC on Nov 30 is 18:00 in Shanghai, still November there; 20:00 UTC is Dec 1.
    add_transitions(database_url, "Z", ("2026-11-30", "delinquent", "M1"))
    utc = await get_ok(reports_api, "/v1/reports/roll-rates?from=2026-12-01&to=2026-12-31")
    shanghai = await get_ok(
        reports_api, "/v1/reports/roll-rates?from=2026-12-01&to=2026-12-31&tz=Asia/Shanghai"
    )
    assert utc["overall"]["totals"]["M1"] == 1
    assert shanghai["overall"]["totals"]["M1"] == 1
    assert shanghai["month_ends"] == ["2026-11-30", "2026-12-31"]
    with session_scope(database_url) as session:
        row = session.exec(select(TransitionRow).where(TransitionRow.loan_id == "Z")).one()
        row.at = at("2026-11-30", hour=20)
    utc = await get_ok(reports_api, "/v1/reports/roll-rates?from=2026-12-01&to=2026-12-31")
    shanghai = await get_ok(
        reports_api, "/v1/reports/roll-rates?from=2026-12-01&to=2026-12-31&tz=Asia/Shanghai"
    )
    assert utc["overall"]["totals"]["M1"] == 1  # still Nov 30 in UTC
    assert shanghai["overall"]["totals"]["M1"] == 0  # already Dec 1 in Shanghai


@pytest.mark.parametrize("path", ["/v1/reports/roll-rates", "/v1/reports/cure-rates"])
async def test_supervisors_and_auditors_read_reports_collectors_and_the_loan_system_may_not(
    reports_api: httpx.AsyncClient, path: str
) -> None:
    query = f"{path}?from=2026-12-01&to=2026-12-31"
    assert (await reports_api.get(query)).status_code == 401
    for headers in (COLLECTOR, LOAN_SYSTEM):
        refused = await reports_api.get(query, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert (await reports_api.get(path, headers=headers)).status_code == 403  # not 422
    for headers in (SUPERVISOR, AUDITOR):
        assert (await reports_api.get(query, headers=headers)).status_code == 200


@pytest.mark.parametrize("path", ["/v1/reports/roll-rates", "/v1/reports/cure-rates"])
@pytest.mark.parametrize(
    ("query", "code", "where"),
    [
        ("to=2026-12-31", "invalid_input", "from"),
        ("from=2026-12-01", "invalid_input", "to"),
        ("from=2026-13-01&to=2026-12-31", "invalid_input", "from"),
        ("from=yesterday&to=2026-12-31", "invalid_input", "from"),
        ("from=2026-12-01&to=2026-02-30", "invalid_input", "to"),
        ("from=2027-01-01&to=2026-12-31", "invalid_period", "from"),
        ("from=0001-01-01&to=2026-12-31", "invalid_period", "from"),
        ("from=2026-12-01&to=9999-12-31", "invalid_period", "to"),
        ("from=2026-12-01&to=2026-12-31&tz=Mars/Olympus", "invalid_input", "tz"),
        ("from=2026-12-01&to=2026-12-31&arm=control", "invalid_input", "arm"),
    ],
)
async def test_missing_bad_or_reversed_dates_are_422_in_the_error_envelope(
    reports_api: httpx.AsyncClient, path: str, query: str, code: str, where: str
) -> None:
    response = await reports_api.get(f"{path}?{query}", headers=SUPERVISOR)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert any(d["loc"][-1] == where for d in error["details"]), error


async def test_the_reports_are_documented_with_descriptions_and_examples(
    reports_api: httpx.AsyncClient,
) -> None:
    document = (await reports_api.get("/openapi.json")).json()
    for path, model in (
        ("/v1/reports/roll-rates", "RollRatesReport"),
        ("/v1/reports/cure-rates", "CureRatesReport"),
    ):
        operation = document["paths"][path]["get"]
        assert "Supervisors and auditors" in operation["description"]
        assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "tz", "arm"}
        assert {"200", "401", "403", "422"} <= set(operation["responses"])
        assert document["components"]["schemas"][model]["examples"]
