"""Auditor endpoints (CONTRACT.md; issue 8): the explained timeline (auditors, and supervisors
who answer for their team's conduct) and the history export (auditors only). The codec endpoint
through which the Temporal Web UI and CLI show decrypted payloads is routes/codec.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from temporalio.client import Client

from api.deps import AuditorDep, SettingsDep, TemporalClientDep, TimelineReaderDep
from api.errors import ApiError
from api.services.access import collector_holds_account
from api.state import database_url, require_temporal
from audit.export import Chain, WorkflowNotFound, export_envelope, fetch_chain
from audit.timeline import Timeline, build_timeline
from core.codec import EncryptionCodec, PayloadKeyError
from workflows.contracts import workflow_id_for

router = APIRouter(tags=["audit"])


@router.get(
    "/v1/accounts/{loan_id}/timeline",
    summary="What was done to the borrower, when, and why",
    description="Every transition, decision, contact (and contact the compliance gate refused), "
    "message, payment, promise, hold and outcome in time order, each `{at, kind, summary, reason, "
    "rule, strategy, inputs, source, ref}`. Built from the store and the workflow history of "
    "every run, so it is complete for closed workflows too (without Temporal, the store's part, "
    "marked `history: unavailable`). Auditors and supervisors read every account's; a collector "
    "the accounts they hold or nobody holds (issue 15: the desk's account page). Answer: "
    "`{loan_id, workflow_id, timezone, state, strategy, history, runs, children, entries}`.",
    response_model=Timeline,
    dependencies=[Depends(collector_holds_account)],
)
async def get_timeline(
    loan_id: str,
    request: Request,
    _who: TimelineReaderDep,
) -> Timeline:
    # Without Temporal the store's part is still an answer (marked `history: unavailable`).
    client: Client | None
    try:
        client = await require_temporal(request)
    except ApiError:
        client = None
    timeline = await build_timeline(client, database_url(request), loan_id)
    if timeline is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return timeline


@router.get(
    "/v1/accounts/{loan_id}/history",
    summary="The Temporal history of the account's episode, for replay (auditors)",
    description="Every run of the workflow chain (continue-as-new) and of its child workflows, "
    "each in the JSON format `temporal workflow show --output json` writes: "
    '`{"format": "arrears.history/v1", "loan_id", "workflow_id", "namespace", "exported_at", '
    '"payloads", "runs": [{"workflow_id", "run_id", "workflow_type", "index" (1 = the oldest '
    'run), "history": {"events": [...]}}], "children": [... with parent_workflow_id, '
    "parent_run_id]}`. With `format=temporal` the answer is one run only, exactly the plain "
    '`{"events": [...]}` document of `temporal workflow show --output json` (the run `run_id` '
    "names, an account run or a child's; default: the latest run of the account). Payloads "
    "stay encrypted unless `decrypted=true`. `arrears replay` replays either document as is.",
    responses={
        200: {
            "description": "The export envelope (or, with `format=temporal`, one plain history).",
            "content": {
                "application/json": {
                    "example": {
                        "format": "arrears.history/v1",
                        "loan_id": "L-1001",
                        "workflow_id": "account-L-1001",
                        "namespace": "default",
                        "exported_at": "2027-01-10T08:00:00Z",
                        "payloads": "encrypted",
                        "runs": [
                            {
                                "workflow_id": "account-L-1001",
                                "run_id": "5f0c6a1e-2b7d-4c1e-9a55-0f3f6c0d7e21",
                                "workflow_type": "AccountWorkflow",
                                "index": 1,
                                "history": {"events": [{"eventId": "1", "eventType": "..."}]},
                            }
                        ],
                        "children": [],
                    }
                }
            },
        }
    },
)
async def get_history(
    *,
    loan_id: str,
    request: Request,
    decrypted: bool = Query(False, description="decrypt payloads (borrower PII in clear)"),
    run_id: str | None = Query(
        None,
        description="the episode containing this run (default: the latest); with "
        "format=temporal, the one run to answer",
    ),
    output: Literal["envelope", "temporal"] = Query(
        "envelope",
        alias="format",
        description="`envelope` (every run and child) or `temporal` (one plain run history)",
    ),
    _who: AuditorDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    if output == "temporal" and run_id is not None:
        try:
            chain = await fetch_chain(client, workflow_id_for(loan_id), run_id)
        except WorkflowNotFound:
            chain = await _chain(client, loan_id, None)  # a child's run: the latest episode's
    else:
        chain = await _chain(client, loan_id, run_id)
    codec = (
        EncryptionCodec.from_spec(settings.payload_key_spec, for_audit=True) if decrypted else None
    )
    try:
        if output == "temporal":
            return await asyncio.to_thread(_one_run, chain, loan_id, run_id, codec)
        return await asyncio.to_thread(
            export_envelope, chain, loan_id=loan_id, namespace=client.namespace, codec=codec
        )
    except PayloadKeyError as exc:
        raise ApiError(409, "payload_key_missing", str(exc)) from exc


async def _chain(client: Client, loan_id: str, run_id: str | None) -> Chain:
    try:
        return await fetch_chain(client, workflow_id_for(loan_id), run_id)
    except WorkflowNotFound as exc:
        raise ApiError(404, "not_found", f"No workflow history for account {loan_id}.") from exc


def _one_run(
    chain: Chain, loan_id: str, run_id: str | None, codec: EncryptionCodec | None
) -> dict[str, Any]:
    """One run's plain `temporal workflow show --output json` document. The latest episode's
    chain is searched (runs and children), so any run id an envelope listed is found."""
    wanted = chain.runs[-1] if run_id is None else None
    for candidate in chain.histories:
        if candidate.run_id == run_id:
            wanted = candidate
    if wanted is None:
        raise ApiError(404, "not_found", f"No run {run_id} in the history of account {loan_id}.")
    entry = export_envelope(Chain(chain.workflow_id, [wanted]), codec=codec)["runs"][0]
    history: dict[str, Any] = entry["history"]
    return history
