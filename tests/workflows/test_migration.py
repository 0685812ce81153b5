"""A book migrated from another collection system (issue 21, item 3): an account already 125
days overdue starts at the entry of its stage (hard core, DPD 90) rather than catching up on the
whole ladder at once, and the legal steps due on arrival — a lawyer's letter, asset
preservation, lawsuit preparation — are withheld and recorded, never fired by an import."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import LOAN_SYSTEM
from tests.workflows.helpers import account_json, business_today, sleep_until, status
from tests.workflows.moments import MomentRecorder
from workflows.contracts import MigrationArrivalDetail


async def test_a_migrated_account_starts_at_its_stage_entry_and_fires_no_legal_step_on_arrival(
    workflow_env: WorkflowEnvironment,
    recording_worker: Worker,
    moments: MomentRecorder,
    api: httpx.AsyncClient,
) -> None:
    today = await business_today(workflow_env)
    body = account_json("L-MIGRATED", today - timedelta(days=125))
    body["migration"] = {"reason": "portfolio moved from the old collection system"}
    created = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert created.status_code == 201, created.text

    await sleep_until(workflow_env, today + timedelta(days=1))
    seen = await status(api, "L-MIGRATED")
    assert (seen["stage"], seen["dpd"]) == ("hard_core", 126)
    done = moments.actions("L-MIGRATED")
    kinds = [a.kind for a in done]
    [arrival] = [a.detail for a in done if a.kind == "migration_arrival"]
    assert isinstance(arrival, MigrationArrivalDetail)
    assert arrival.reason == "portfolio moved from the old collection system"
    assert arrival.entered_at == "hard_core"
    assert sorted(arrival.withheld or []) == [
        "hc_asset_preservation_105",
        "hc_lawsuit_prep_120",
        "hc_lawyer_letter_90",
    ]
    for legal in ("lawyer_letter", "asset_preservation", "lawsuit"):
        assert legal not in kinds, kinds
    # The stage's entry steps go out; the earlier stages' do not catch up.
    assert "sms_reminder" in kinds
    for earlier in ("letter", "oca_placement", "field_visit"):
        assert earlier not in kinds, kinds

    # The ladder climbs on as usual: the lawsuit's own day (DPD 150) fires it.
    await sleep_until(workflow_env, today - timedelta(days=125) + timedelta(days=151))
    assert "lawsuit" in [a.kind for a in moments.actions("L-MIGRATED")]
