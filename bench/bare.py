"""The bare Temporal baseline: a minimal workflow with a given number of timers and activities
spread over an episode, on a time-skipping test server, with a plain worker.

`run_bare(n, days, timers, activities)` starts `n` of them, skips virtual time to the end and
reports wall time, history events per workflow and worker memory per open workflow (RSS delta of
this process while all `n` are open and sleeping, divided by `n`).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare_workflow import BareWorkflow, bare_step
from simulator.stack import TEST_SERVER

__all__ = ["rss_bytes", "run_bare"]


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def run_bare(n: int, days: int, timers: int, activities: int) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    queue = f"bare-{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[BareWorkflow],
                activities=[bare_step],
                activity_executor=executor,
                max_concurrent_activities=32,
            ):
                before = rss_bytes()
                began = time.perf_counter()
                cpu_began = time.process_time()
                handles = [
                    await env.client.start_workflow(
                        BareWorkflow.run,
                        args=[days, timers, activities],
                        id=f"bare-{i}",
                        task_queue=queue,
                    )
                    for i in range(n)
                ]
                await env.sleep(timedelta(minutes=1))
                open_rss = rss_bytes() - before
                for _ in range(days):
                    await env.sleep(timedelta(days=1))
                await env.sleep(timedelta(days=1))
                wall = time.perf_counter() - began
                cpu = time.process_time() - cpu_began
                events = 0
                completed = 0
                for handle in handles:
                    description = await handle.describe()
                    completed += description.status == WorkflowExecutionStatus.COMPLETED
                    events += len((await handle.fetch_history()).events)
    finally:
        await env.shutdown()
    return {
        "workflows": n,
        "days": days,
        "timers": timers,
        "activities": activities,
        "completed": completed,
        "wall_seconds": round(wall, 1),
        "lifecycles_per_minute": round(60 * completed / wall, 1) if wall else None,
        "history_events_per_episode": round(events / n, 1),
        # This process's CPU (the worker and client; not the test server's) per history event.
        "cpu_ms_per_history_event": round(1000 * cpu / max(1, events), 3),
        "rss_bytes_per_open_workflow": round(open_rss / n),
    }


def main() -> None:
    """`python -m bench.bare N DAYS TIMERS ACTIVITIES`: one baseline run in a fresh process
    (so its memory figure is not blurred by another run's freed heap), as JSON on stdout."""
    import asyncio
    import json
    import sys

    n, days, timers, activities = (int(x) for x in sys.argv[1:5])
    print(json.dumps(asyncio.run(run_bare(n, days, timers, activities))))


if __name__ == "__main__":
    main()
