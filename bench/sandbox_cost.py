"""What the workflow sandbox costs per AccountWorkflow run: replay one committed history N times
through the worker's own sandboxed runner (every replay is a new run in a fresh sandbox, which
re-imports the workflow's module and whatever is not passed through), and report the time and the
memory allocated per run.

    python bench/sandbox_cost.py [N] [HISTORY.json] [--unsandboxed]

With --unsandboxed the same replays run without the sandbox: the difference is the sandbox's
share.

Run it with PYTHONDONTWRITEBYTECODE=1 (as the Docker image and the test suite run) to see the
cost of compiling the re-imported modules from source every run.
"""

from __future__ import annotations

import asyncio
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from core.settings import DEV_PAYLOAD_KEY, Settings
from core.temporal import data_converter, sandbox_runner
from workflows import WORKFLOWS
from workflows.account import SANDBOX_SHARED

DEFAULT = Path("tests/histories/1.0/account-REC-paid_on_time.run1.json")


async def measure(runs: int, path: Path, sandboxed: bool = True) -> tuple[float, float]:
    """CPU milliseconds per replayed run (one replay worker for all of them, after a warm-up
    run), and KiB still allocated per run (tracemalloc, in a second pass: tracing slows it)."""
    text = path.read_text(encoding="utf-8")
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(Settings(ARREARS_PAYLOAD_KEY=DEV_PAYLOAD_KEY)),
        workflow_runner=sandbox_runner(SANDBOX_SHARED)
        if sandboxed
        else UnsandboxedWorkflowRunner(),
    )

    async def histories(count: int) -> AsyncIterator[WorkflowHistory]:
        for i in range(count):
            yield WorkflowHistory.from_json(f"sandbox-cost-{i}", text)

    async def replay(count: int) -> None:
        async with replayer.workflow_replay_iterator(histories(count)) as results:
            async for result in results:
                if result.replay_failure is not None:
                    raise SystemExit(f"{path}: {result.replay_failure}")

    await replay(1)  # the host's own imports are not per run
    # CPU time of the process (the SDK core's threads included): wall time on a shared machine
    # says more about the neighbours than about the sandbox.
    started = time.process_time()
    await replay(runs)
    per_run_ms = (time.process_time() - started) * 1000 / runs
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    await replay(runs)
    per_run_kib = (tracemalloc.get_traced_memory()[0] - before) / 1024 / runs
    tracemalloc.stop()
    return per_run_ms, per_run_kib


def main(argv: list[str]) -> None:
    sandboxed = "--unsandboxed" not in argv
    args = [a for a in argv if a != "--unsandboxed"]
    runs = int(args[0]) if args else 50
    path = Path(args[1]) if len(args) > 1 else DEFAULT
    ms, kib = asyncio.run(measure(runs, path, sandboxed))
    how = "sandboxed" if sandboxed else "unsandboxed"
    print(f"{runs} {how} runs of {path.name}: {ms:.1f} ms CPU, {kib:.0f} KiB retained per run")


if __name__ == "__main__":
    main(sys.argv[1:])
