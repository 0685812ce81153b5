"""Champion/challenger in production, through `POST /v1/accounts` on the real AccountWorkflow:
the loan id decides the arm, the account runs the arm's strategy, the assignment is recorded
once, and the reports split by arm."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from domain.arms import arm_for
from store.models import TransitionRow
from store.reports import assignments
from tests.conftest import LOAN_SYSTEM, SUPERVISOR
from tests.started import STARTED
from tests.workflows.helpers import account_json, business_today, pay, sleep_until, store_rows

EXPERIMENT = "default@2:front_light@2"


@pytest.fixture
async def trial_api(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The API of an operator running default against front_light, half and half, by setting
    ARREARS_CHALLENGER (no strategy file edited); the worker fixture serves the same queue."""
    trial = settings.model_copy(update={"challenger": "front_light", "challenger_split": 50})
    app = create_app(trial, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arrears.test"
    ) as client:
        yield client


def one_loan_per_arm() -> dict[str, str]:
    loans: dict[str, str] = {}
    for n in range(100):
        loan = f"L-CC-{n}"
        loans.setdefault(arm_for(loan, 50, experiment=EXPERIMENT), loan)
    return loans


async def post(api: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    STARTED.append(str(body["loan_id"]))
    return await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)


async def wait_for_transitions(url: str, loans: list[str], count: int) -> None:
    for _ in range(200):
        if all(len(store_rows(url, TransitionRow, loan)) >= count for loan in loans):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {count} transitions of {loans} in the store")


async def test_the_loan_id_decides_the_arm_the_account_runs_it_and_it_is_recorded_once(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    trial_api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loans = one_loan_per_arm()
    due = await business_today(workflow_env) + timedelta(days=2)
    bodies = {arm: account_json(loan, due) for arm, loan in loans.items()}
    for arm, expected in (("champion", "default"), ("challenger", "front_light")):
        started = await post(trial_api, bodies[arm])
        assert started.status_code == 201, started.text
        assert started.json()["strategy"] == {"name": expected, "version": 2}
    recorded = {a.loan_id: a for a in assignments(database_url)}
    assert {loan: (a.arm, a.experiment) for loan, a in recorded.items()} == {
        loans["champion"]: ("champion", EXPERIMENT),
        loans["challenger"]: ("challenger", EXPERIMENT),
    }
    assert recorded[loans["challenger"]].strategy_ref == "front_light@2"

    # A second start of the same loan: the open episode, the same arm, nothing recorded again.
    await workflow_env.sleep(timedelta(hours=1))
    again = await post(trial_api, bodies["challenger"])
    assert again.status_code == 200, again.text
    assert again.json()["strategy"] == {"name": "front_light", "version": 2}
    assert assignments(database_url, loans["challenger"]) == [recorded[loans["challenger"]]]

    # Both fall behind; the champion's borrower pays everything and is cured.
    await sleep_until(workflow_env, due + timedelta(days=2), hour=11)
    await wait_for_transitions(database_url, list(loans.values()), 1)
    await pay(
        trial_api, loans["champion"], "P-CC-1", "1300.00", await workflow_env.get_current_time()
    )
    await workflow_env.sleep(timedelta(minutes=5))
    await wait_for_transitions(database_url, [loans["champion"]], 2)

    period = f"from={due.isoformat()}&to={(due + timedelta(days=3)).isoformat()}"
    cures = await trial_api.get(
        f"/v1/reports/cure-rates?{period}&tz=Asia/Shanghai", headers=SUPERVISOR
    )
    assert cures.status_code == 200, cures.text
    body = cures.json()
    assert (body["overall"]["became_delinquent"], body["overall"]["cured_total"]) == (2, 1)
    champion, challenger = body["arms"]["champion"], body["arms"]["challenger"]
    assert (champion["became_delinquent"], champion["cured_total"]) == (1, 1)
    assert (challenger["became_delinquent"], challenger["cured_total"]) == (1, 0)
    assert champion["strategies"] == ["default@2"]
    assert challenger["strategies"] == ["front_light@2"]
