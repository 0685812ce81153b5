"""The bare baseline's workflow and activity, in a module of their own: the workflow sandbox
re-imports this module, so it imports nothing but temporalio."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

__all__ = ["BareWorkflow", "bare_step"]


@activity.defn
def bare_step(n: int) -> int:
    return n


@workflow.defn
class BareWorkflow:
    """`timers` sleeps and `activities` no-op activities, evenly over `days`."""

    @workflow.run
    async def run(self, days: int, timers: int, activities: int) -> int:
        steps = max(timers, activities, 1)
        gap = timedelta(days=days) / steps
        done = 0
        for i in range(steps):
            if i < timers:
                await asyncio.sleep(gap.total_seconds())
            if i < activities:
                done += await workflow.execute_activity(
                    bare_step, i, start_to_close_timeout=timedelta(seconds=30)
                )
        return done
