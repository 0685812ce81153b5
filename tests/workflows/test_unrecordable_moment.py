"""An activity that can never succeed for its input fails once and for all, and the account
goes on (issue 21, item 2). A moment the store cannot hold (a value too long or too large for
its column, a NUL) used to be retried for ever, freezing the account; now `apply_moment` fails
it as INVALID_MOMENT, not retried, and the episode counts it and keeps deciding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.moment import MomentActivities
from activities.policy import find_calendars
from core.settings import Settings
from store.models import ActionRow
from tests.workflows.helpers import (
    account_json,
    business_today,
    sleep_until,
    start,
    status,
    store_rows,
)
from worker.main import workflow_runner
from workflows import WORKFLOWS
from workflows.contracts import INVALID_MOMENT, MomentRecord, PaymentRecord


async def test_a_moment_the_store_cannot_hold_is_counted_and_the_episode_goes_on(
    workflow_env: WorkflowEnvironment, settings: Settings, api: httpx.AsyncClient
) -> None:
    real = MomentActivities(settings.effective_database_url)
    refused: list[datetime] = []

    @activity.defn(name="apply_moment")
    def apply_moment(moment: MomentRecord) -> dict[str, Any]:
        if not refused:
            refused.append(moment.at)
            raise ApplicationError(
                "the store cannot hold this moment", type=INVALID_MOMENT, non_retryable=True
            )
        return real.apply_moment(moment)

    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            workflow_env.client,
            task_queue=settings.task_queue,
            workflows=WORKFLOWS,
            activities=[apply_moment, find_calendars],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            due = await business_today(workflow_env) + timedelta(days=2)
            await start(api, account_json("L-UNRECORDED", due))
            await sleep_until(workflow_env, due + timedelta(days=2))
            seen = await status(api, "L-UNRECORDED")

    assert len(refused) == 1
    assert seen["unrecorded_moments"] == 1
    assert (seen["state"], seen["dpd"]) == ("delinquent", 2)
    kinds = [
        row["kind"]
        for row in store_rows(settings.effective_database_url, ActionRow, "L-UNRECORDED")
    ]
    assert "sms_reminder" in kinds  # the moments after it were recorded as usual


@pytest.mark.database
def test_a_value_postgresql_cannot_hold_fails_the_moment_without_retry(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps any length of text: the bound is PostgreSQL's")
    moment = MomentRecord.model_validate(
        {
            "loan_id": "L-TOO-LONG",
            "workflow_id": "account-L-TOO-LONG",
            "episode": "e" * 32,
            "at": datetime(2027, 1, 5, 2, tzinfo=UTC),
            "status": _status(),
            "segment": "standard",
        }
    )
    moment.payments.append(
        PaymentRecord(
            payment_id="P" * 200,
            amount=Decimal("10.00"),
            paid_at=moment.at,
            dpd=3,
            bucket="M1",
        )
    )
    with pytest.raises(ApplicationError) as failed:
        MomentActivities(database_url).apply_moment(moment)
    assert failed.value.type == INVALID_MOMENT and failed.value.non_retryable


def _status() -> dict[str, Any]:
    from workflows.contracts import AccountStatus

    examples: Any = AccountStatus.model_config["json_schema_extra"]
    return {**examples["examples"][0], "loan_id": "L-TOO-LONG"}
