"""`arrears history`, `arrears replay`, `arrears timeline` (issue 8).

These talk to Temporal and the store directly, with the same environment as the worker
(TEMPORAL_ADDRESS, DATABASE_URL, ARREARS_PAYLOAD_KEY), not through the API: replay needs the
workflow code and the payload key on the machine anyway, an auditor's export or report must work
while the API is down or after the account is long closed, and one module
(`audit.timeline`) builds what both the API and the CLI show, so they cannot disagree.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from core import logmask
from core.settings import Settings, get_settings

if TYPE_CHECKING:  # the Temporal SDK is imported when a command runs, not for `arrears --help`
    from temporalio.client import Client

    from audit.replay import LabeledHistory, ReplayReport
    from audit.timeline import Timeline

console = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


async def _client(settings: Settings) -> Client:
    from arrears.preflight import temporal_reachable
    from core.temporal import connect
    from core.temporal_target import TemporalConfigError, temporal_target

    try:
        address = temporal_target(settings).address
    except TemporalConfigError as exc:
        _fail(str(exc))
    if not temporal_reachable(address, timeout=3):
        _fail(
            f"Temporal is not reachable at {address}: start it "
            "(`arrears up`) or set TEMPORAL_ADDRESS"
        )
    return await connect(settings)


def _workflow_id(loan_id: str) -> str:
    from workflows.contracts import workflow_id_for

    return workflow_id_for(loan_id)


# ------------------------------------------------------------------------------ history


async def export_history(
    settings: Settings, loan_id: str, run_id: str | None, decrypt: bool
) -> dict[str, Any]:
    from audit.export import export_envelope, fetch_chain
    from core.codec import EncryptionCodec

    client = await _client(settings)
    chain = await fetch_chain(client, _workflow_id(loan_id), run_id)
    codec = (
        EncryptionCodec.from_spec(settings.payload_key_spec, for_audit=True) if decrypt else None
    )
    return export_envelope(chain, loan_id=loan_id, namespace=client.namespace, codec=codec)


def history(
    loan_id: str = typer.Argument(..., help="the loan id (workflow account-LOAN_ID)"),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="write the export envelope here (default: stdout)"
    ),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="also write one plain Temporal history file per run here"
    ),
    run_id: str | None = typer.Option(
        None, "--run-id", help="the episode containing this run (default: the latest)"
    ),
    decrypt: bool = typer.Option(
        False, "--decrypt", help="decrypt payloads (the file then holds borrower PII in clear)"
    ),
) -> None:
    """Export an account's Temporal history: every run and child, for replay.

    Each run is in the JSON `temporal workflow show --output json` writes, inside an envelope
    (see audit.export.export_envelope) that `arrears replay` reads as is.
    """
    from audit.export import WorkflowNotFound, write_runs
    from core.codec import PayloadKeyError

    settings = get_settings()
    try:
        envelope = asyncio.run(export_history(settings, loan_id, run_id, decrypt))
    except WorkflowNotFound:
        _fail(f"no workflow history for account {loan_id} (workflow {_workflow_id(loan_id)})")
        return
    except PayloadKeyError as exc:
        _fail(str(exc))
        return
    text = json.dumps(envelope, indent=2)
    if output is None and runs_dir is None:
        typer.echo(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    files = write_runs(envelope, runs_dir) if runs_dir is not None else []
    if output is not None or runs_dir is not None:
        runs, children = len(envelope["runs"]), len(envelope["children"])
        events = sum(
            len(e["history"].get("events", [])) for e in [*envelope["runs"], *envelope["children"]]
        )
        where = ", ".join(str(p) for p in ([output] if output else []) + files[:1])
        more = f" and {len(files) - 1} more" if len(files) > 1 else ""
        err.print(
            f"{runs} run(s), {children} child run(s), {events} events → {escape(where)}{more}"
        )


# ------------------------------------------------------------------------------ replay


def _looks_like_a_path(target: str) -> bool:
    """A file or folder, existing or meant (a missing `x.json` is an error, not a workflow id)."""
    return Path(target).exists() or target.endswith(".json") or "/" in target


async def collect(
    settings: Settings, targets: list[str], dirs: list[Path], query: str | None, limit: int
) -> list[LabeledHistory]:
    """Histories from files/folders, workflow ids (a bare loan id works too) and a query."""
    from audit.export import WorkflowNotFound
    from audit.replay import histories_of_query, histories_of_workflows, load_histories

    paths = [*dirs, *(Path(t) for t in targets if _looks_like_a_path(t))]
    ids = [t for t in targets if not _looks_like_a_path(t)]
    found = load_histories(paths) if paths else []
    if ids or query:
        client = await _client(settings)
        for workflow_id in ids:
            try:
                found.extend(await histories_of_workflows(client, [workflow_id]))
            except WorkflowNotFound:
                if workflow_id.startswith("account-"):
                    raise
                found.extend(await histories_of_workflows(client, [_workflow_id(workflow_id)]))
        if query:
            found.extend(await histories_of_query(client, query, limit))
    return found


def print_report(report: ReplayReport, out: Console) -> None:
    width = max((len(o.label) for o in report.outcomes), default=10)
    for outcome in report.outcomes:
        label = escape(outcome.label.ljust(width))
        if outcome.ok:
            out.print(f"[green]ok  [/]  {label}  {outcome.events} events", soft_wrap=True)
            continue
        where = (
            f"event {outcome.event_id} {outcome.event_type}: "
            if outcome.event_id is not None
            else ""
        )
        kind = "nondeterministic at " if outcome.nondeterministic else "error: "
        detail = escape(f"{kind}{where}{outcome.error or ''}")
        out.print(f"[bold red]FAIL[/]  {label}  {detail}", soft_wrap=True)
    failed = len(report.failed)
    out.print(
        f"replayed {len(report.outcomes)} histories, {report.events} events in "
        f"{report.seconds:.2f} s: {len(report.outcomes) - failed} ok, {failed} failed",
        soft_wrap=True,
    )


def replay(
    targets: list[str] = typer.Argument(
        None, help="workflow ids (or loan ids), history files or folders"
    ),
    dirs: list[Path] = typer.Option(
        [], "--dir", help="a folder of history JSON files (searched recursively); repeatable"
    ),
    query: str | None = typer.Option(
        None,
        "--query",
        help="a visibility query, e.g. \"ArrearsState='delinquent'\" (needs the dev server or a "
        "cluster, not the time-skipping test server)",
    ),
    limit: int = typer.Option(1000, help="at most this many executions from --query"),
) -> None:
    """Replay workflow histories against the current code; exit 1 if any fails.

    Targets are workflow ids (or loan ids), export or history files, or folders of them.
    """
    from audit.export import WorkflowNotFound
    from audit.replay import replay_histories

    settings = get_settings()
    targets = targets or []
    if not targets and not dirs and not query:
        _fail("name workflow ids, history files or folders (--dir), or a --query")

    async def run() -> ReplayReport:
        histories = await collect(settings, targets, dirs, query, limit)
        if not histories:
            _fail("no histories found to replay")
        return await replay_histories(histories, settings)

    try:
        report = asyncio.run(run())
    except (WorkflowNotFound, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    print_report(report, console)
    if report.failed:
        raise typer.Exit(1)


# ------------------------------------------------------------------------------ timeline


class TimelineFormat(StrEnum):
    TABLE = "table"
    HTML = "html"
    JSON = "json"


async def _timeline_client(settings: Settings) -> Client | None:
    """Temporal for the history part, or None with a one-line warning: an auditor's report must
    work while Temporal is down (the store's part, marked `history unavailable`)."""
    from arrears.preflight import temporal_reachable
    from core.temporal import connect
    from core.temporal_target import TemporalConfigError, temporal_target

    try:
        address = temporal_target(settings).address
    except TemporalConfigError as exc:
        address, reason = settings.temporal_address, str(exc)
    else:
        reason = "not reachable"
    if reason == "not reachable" and temporal_reachable(address, timeout=3):
        try:
            return await connect(settings)
        except Exception as exc:  # reachable but refusing (TLS, namespace): same fallback
            reason = f"{exc.__class__.__name__}: {exc}"
    err.print(
        f"[yellow]warning:[/] Temporal at {escape(address)} {escape(reason)}; "
        "showing the store's part of the timeline only (no holds, messages or workflow frame)"
    )
    return None


def timeline(
    loan_id: str = typer.Argument(..., help="the loan id"),
    format: TimelineFormat = typer.Option(TimelineFormat.TABLE, "--format", "-f"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write to this file"),
) -> None:
    """The explained timeline of an account: what was done, when, and why.

    Every transition, decision, contact, message, payment, promise, hold and outcome, in order,
    with the rule, strategy version and inputs behind each; --format html writes a standalone
    report.
    """
    from audit.timeline import build_timeline, render_html, timeline_table

    settings = get_settings()

    async def build() -> Timeline | None:
        client = await _timeline_client(settings)
        return await build_timeline(client, settings.effective_database_url, loan_id)

    found = asyncio.run(build())
    if found is None:
        _fail(f"no account {loan_id} is known to the store or to Temporal")
        return
    if format == TimelineFormat.HTML:
        text = render_html(found)
    elif format == TimelineFormat.JSON:
        text = found.model_dump_json(indent=2)
    else:
        text = ""
    if format == TimelineFormat.TABLE:
        if output is None:
            console.print(timeline_table(found))
            return
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=160).print(timeline_table(found))
    elif output is None:
        typer.echo(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    if output is not None:
        err.print(f"{len(found.entries)} entries → {escape(str(output))}")


# ------------------------------------------------------------------------------ registration


def mask_logs() -> None:
    """Every arrears command's logs pass through the PII masker (core.logmask)."""
    logmask.install()


keys_app = typer.Typer(help="Payload encryption keys (ARREARS_PAYLOAD_KEY).", no_args_is_help=True)


@keys_app.command("new")
def keys_new() -> None:
    """Print a fresh payload key entry (`key_id:base64`, 32 random bytes) for ARREARS_PAYLOAD_KEY.

    Put it FIRST (it then encrypts) and keep the old entries after it, so histories encrypted
    under them still decrypt (docs/audit.md, "Keys"). The entry is a secret: store it in your
    secret store, never in the repository.
    """
    from core.codec import new_key_entry

    typer.echo(new_key_entry())
    err.print(
        "new key: put it first in ARREARS_PAYLOAD_KEY, keep the old keys after it "
        "(comma-separated) until no history encrypted with them is needed"
    )


def register(app: typer.Typer) -> None:
    app.command("history")(history)
    app.command("replay")(replay)
    app.command("timeline")(timeline)
    app.add_typer(keys_app, name="keys")
    if app.registered_callback is None:
        app.callback()(mask_logs)
