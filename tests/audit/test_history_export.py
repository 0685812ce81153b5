"""History export (issue 8): `GET /v1/accounts/{loan_id}/history` and `arrears history` cover
every run of the continue-as-new chain in the JSON of `temporal workflow show --output json`, and
`arrears replay` replays exactly what they write."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from audit.export import ENVELOPE_FORMAT, export_envelope, fetch_chain
from audit.replay import load_histories, parse_history_document, replay_histories
from core.codec import ENCODING
from core.settings import Settings
from core.temporal import data_converter
from tests.audit.conftest import ARREARS
from tests.conftest import AUDITOR, COLLECTOR, SUPERVISOR
from tests.workflows.helpers import (
    account_json,
    business_today,
    chain_histories,
    sleep_until,
    start,
)
from worker.main import workflow_runner
from workflows import WORKFLOWS


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The real `arrears` command in a subprocess; the test's event loop (and the worker on it)
    keeps running meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *ARREARS,
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _episode_over_two_runs(
    env: WorkflowEnvironment, api: httpx.AsyncClient, loan: str
) -> None:
    """Into mid_range (DPD 30): the workflow continues-as-new at the stage boundary."""
    due = await business_today(env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(env, due + timedelta(days=31), hour=12)


def _events(entry: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = entry["history"]["events"]
    return events


async def test_history_export_holds_every_run_of_the_chain_in_temporal_json_and_replays(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    tmp_path: Path,
    cli_env: dict[str, str],
) -> None:
    loan = "L-HIST-1"
    await _episode_over_two_runs(workflow_env, api, loan)
    chain = await chain_histories(workflow_env, loan)
    assert len(chain) == 2

    response = await api.get(f"/v1/accounts/{loan}/history", headers=AUDITOR)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["format"] == ENVELOPE_FORMAT
    assert (envelope["loan_id"], envelope["workflow_id"]) == (loan, f"account-{loan}")
    assert envelope["payloads"] == "encrypted" and envelope["children"] == []
    runs = envelope["runs"]
    assert [(r["index"], r["run_id"]) for r in runs] == [(1, chain[0].run_id), (2, chain[1].run_id)]
    for run, fetched in zip(runs, chain, strict=True):
        assert run["workflow_type"] == "AccountWorkflow"
        # Exactly the events `temporal workflow show --output json` would print for that run.
        assert run["history"] == fetched.to_json_dict()
        assert (
            WorkflowHistory.from_json(run["workflow_id"], run["history"]).events == fetched.events
        )
    assert _events(runs[0])[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    assert (
        _events(runs[1])[0]["workflowExecutionStartedEventAttributes"]["continuedExecutionRunId"]
        == runs[0]["run_id"]
    )

    # What the API exports, `arrears replay` replays as is.
    exported = tmp_path / "export.json"
    exported.write_text(response.text)
    report = await replay_histories(load_histories([exported]), Settings())
    assert [o.label for o in report.outcomes] == [f"account-{loan} run 1", f"account-{loan} run 2"]
    assert not report.failed

    # The CLI writes the same envelope and one plain file per run; replay reads both and the
    # running workflow by id.
    code, _, err = await _run(
        ["history", loan, "-o", str(tmp_path / "cli.json"), "--runs-dir", str(tmp_path / "runs")],
        cli_env,
    )
    assert code == 0, err
    written = json.loads((tmp_path / "cli.json").read_text())
    assert [r["run_id"] for r in written["runs"]] == [r["run_id"] for r in runs]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        f"account-{loan}.run1.json",
        f"account-{loan}.run2.json",
    ]
    code, out, err = await _run(
        ["replay", str(tmp_path / "cli.json"), f"account-{loan}", "--dir", str(tmp_path / "runs")],
        cli_env,
    )
    assert code == 0, out + err
    assert out.count("ok  ") == 6
    assert "replayed 6 histories" in out and "6 ok, 0 failed" in out


async def test_a_decrypted_export_shows_payloads_in_clear_and_still_replays(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    loan = "L-HIST-2"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=2), hour=12)

    exported = await api.get(f"/v1/accounts/{loan}/history", headers=AUDITOR)
    assert exported.status_code == 200, exported.text
    encrypted = exported.json()
    started = _events(encrypted["runs"][0])[0]["workflowExecutionStartedEventAttributes"]
    assert started["input"]["payloads"][0]["metadata"]["encoding"] == (
        base64.b64encode(ENCODING).decode()
    )

    response = await api.get(f"/v1/accounts/{loan}/history?decrypted=true", headers=AUDITOR)
    assert response.status_code == 200
    decrypted = response.json()
    assert decrypted["payloads"] == "decrypted"
    text = json.dumps(decrypted)
    assert base64.b64encode(ENCODING).decode() not in text
    assert (
        "Wang Fang"
        in __import__("base64")
        .b64decode(
            _events(decrypted["runs"][0])[0]["workflowExecutionStartedEventAttributes"]["input"][
                "payloads"
            ][0]["data"]
        )
        .decode()
    )
    path = tmp_path / "decrypted.json"
    path.write_text(response.text)
    report = await replay_histories(load_histories([path]), Settings())
    assert report.outcomes and not report.failed


async def test_history_of_an_unknown_loan_is_404_and_only_auditors_may_export(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.get("/v1/accounts/L-NOBODY/history", headers=AUDITOR)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    # CONTRACT.md: the raw history is the auditors' alone (supervisors read the timeline).
    for other in (COLLECTOR, SUPERVISOR):
        refused = await api.get("/v1/accounts/L-NOBODY/history", headers=other)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"


async def test_format_temporal_answers_one_plain_run_history_that_the_sdk_replayer_replays(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    """`?format=temporal` is exactly `temporal workflow show --output json` of one run: the
    latest by default, any run of the chain by `run_id`, so any Temporal tool reads it."""
    loan = "L-HIST-PLAIN"
    await _episode_over_two_runs(workflow_env, api, loan)
    chain = await chain_histories(workflow_env, loan)
    assert len(chain) == 2

    latest = await api.get(f"/v1/accounts/{loan}/history?format=temporal", headers=AUDITOR)
    assert latest.status_code == 200, latest.text
    assert list(latest.json()) == ["events"]
    assert latest.json() == chain[1].to_json_dict()
    first = await api.get(
        f"/v1/accounts/{loan}/history",
        params={"format": "temporal", "run_id": chain[0].run_id},
        headers=AUDITOR,
    )
    assert first.status_code == 200, first.text
    assert first.json() == chain[0].to_json_dict()

    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(Settings()),
        workflow_runner=workflow_runner(),
    )
    for document in (first.text, latest.text):
        history = WorkflowHistory.from_json(f"account-{loan}", document)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure

    unknown = await api.get(
        f"/v1/accounts/{loan}/history",
        params={"format": "temporal", "run_id": "00000000-0000-4000-8000-000000000000"},
        headers=AUDITOR,
    )
    assert unknown.status_code == 404, unknown.text


# Restructuring and write-off will be child workflows of AccountWorkflow; these two stand in for
# the shape (a parent that starts a child in each run and continues as new) until they exist.
@workflow.defn(name="AuditProbeChild", sandboxed=False)
class ProbeChild:
    @workflow.run
    async def run(self, n: int) -> int:
        return n * 10


@workflow.defn(name="AuditProbeParent", sandboxed=False)
class ProbeParent:
    @workflow.run
    async def run(self, runs_left: int) -> int:
        result: int = await workflow.execute_child_workflow(
            ProbeChild.run, runs_left, id=f"{workflow.info().workflow_id}-child-{runs_left}"
        )
        if runs_left > 1:
            workflow.continue_as_new(runs_left - 1)
        return result


async def test_the_export_follows_continue_as_new_and_includes_every_child_workflow(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    client = workflow_env.client
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ProbeParent, ProbeChild],
    ):
        result = await client.execute_workflow(
            ProbeParent.run, 2, id="audit-probe-parent", task_queue=settings.task_queue
        )
    assert result == 10

    # From any run of the chain, the whole chain: here from the first run.
    latest = await fetch_chain(client, "audit-probe-parent")
    chain = await fetch_chain(client, "audit-probe-parent", latest.runs[0].run_id)
    assert [r.run_id for r in chain.runs] == [r.run_id for r in latest.runs]
    assert len(chain.runs) == 2
    assert [(c.workflow_id, c.workflow_type, c.parent_run_id) for c in chain.children] == [
        ("audit-probe-parent-child-2", "AuditProbeChild", chain.runs[0].run_id),
        ("audit-probe-parent-child-1", "AuditProbeChild", chain.runs[1].run_id),
    ]
    envelope = export_envelope(chain, namespace=client.namespace)
    assert [c["parent_workflow_id"] for c in envelope["children"]] == ["audit-probe-parent"] * 2
    histories = parse_history_document(json.loads(json.dumps(envelope)), "probe")
    assert [h.label for h in histories] == [
        "audit-probe-parent run 1",
        "audit-probe-parent run 2",
        "child audit-probe-parent-child-2 run 1",
        "child audit-probe-parent-child-1 run 1",
    ]
    report = await replay_histories(histories, settings, workflows=[ProbeParent, ProbeChild])
    assert report.failed == [] and report.events == sum(len(h.history.events) for h in histories)
