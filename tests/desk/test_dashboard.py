"""The dashboard over HTTP (issue 15): for a chosen period, each figure an SVG chart with its
numbers beside it, from the JSON API's own report functions; a bad period is refused on the page
with the API's message; collectors do not see it."""

from __future__ import annotations

import re

import httpx
import pytest

from api.desk.dashboard import roll_forward
from tests.desk.conftest import signed_in
from tests.reports.test_operations_report import IN, PERIOD, _done, _promise
from tests.seed import account_row, seed


@pytest.fixture
def desk_users() -> dict[str, str]:
    return {"carol": "supervisor", "dave": "auditor", "alice": "collector"}


def test_the_roll_forward_rate_adds_the_moves_to_worse_statuses_only() -> None:
    rates = {"M1": {"current": 0.5, "M1": 0.2, "M2": 0.2, "M3": 0.05, "written_off": 0.05}}
    assert dict(roll_forward(rates))["M1"] == 0.3
    assert dict(roll_forward(rates))["M2"] == 0.0


async def test_the_dashboard_draws_each_figure_with_its_numbers_for_the_period(
    desk: httpx.AsyncClient, database_url: str
) -> None:
    seed(
        database_url,
        account_row("OP-1"),
        _promise(1, "kept", IN),
        _promise(2, "broken", IN),
        _promise(3, "kept", IN),
        _done(1, "promise_to_pay", "alice"),
        _done(2, "no_answer", "bob"),
    )
    await signed_in(desk, "dave")  # an auditor reads it too
    page = await desk.get("/desk/dashboard", params=PERIOD)
    assert page.status_code == 200, page.text
    charts = re.findall(r'<svg id="(chart-[a-z]+)" class="chart" role="img"', page.text)
    assert charts == [
        "chart-roll",
        "chart-cure",
        "chart-rates",
        "chart-hours",
        "chart-people",
        "chart-agencies",
    ]
    rates = page.text.split('id="chart-rates"')[1].split("</svg>")[0]
    assert "66.7%" in rates and "50.0%" in rates  # promises kept 2/3; right-party 1/2
    table = page.text.split('id="rates"')[1].split("</table>")[0]
    assert "66.7%" in table and "50.0%" in table
    assert '<th scope="row">10:00</th><td>call 2</td>' in page.text  # 10:30 in Shanghai


async def test_a_bad_period_is_refused_on_the_page_and_collectors_are_kept_out(
    desk: httpx.AsyncClient,
) -> None:
    await signed_in(desk, "carol")
    backwards = await desk.get("/desk/dashboard", params={**PERIOD, "from": "2027-02-01"})
    assert backwards.status_code == 422 and "invalid_period" in backwards.text
    assert 'value="2027-02-01"' in backwards.text  # what was typed stays in the form
    garbled = await desk.get("/desk/dashboard", params={**PERIOD, "to": "31/12/2026"})
    assert garbled.status_code == 422 and "invalid_input" in garbled.text
    await signed_in(desk, "alice")
    assert (await desk.get("/desk/dashboard")).status_code == 403
