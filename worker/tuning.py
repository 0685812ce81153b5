"""How much one worker process takes on: cache, slots, pollers, rate limits.

Every value is a setting (README, "Configuration"; docs/operations-temporal.md, "Worker
operations"); what is not set is sized for the machine the worker starts on. Workflow tasks run
Python under one GIL, so more slots than a few per core only queue; activities spend their time
waiting on the store and the SMS provider, so they get many threads per core.

The workflow cache is sized by memory, not by cores: a cache smaller than the set of open
workflows makes every task of an evicted run replay its history (measured 1.6-2.3x slower, issue
19), so it should hold every open account the worker serves, and memory is what bounds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.settings import Settings

__all__ = ["CACHED_RUN_BYTES", "WorkerTuning", "machine_memory_bytes"]

# What one cached AccountWorkflow run holds, rounded up from the measured 0.85-1.4 MB of process
# RSS per open workflow (docs/benchmarks.md): the budget a default cache slot is given.
CACHED_RUN_BYTES = 1 << 20
CACHE_MEMORY_SHARE = 4  # a quarter of the machine's (or the container's) memory
CACHE_FLOOR, CACHE_CEILING = 500, 20_000


@dataclass(frozen=True)
class WorkerTuning:
    cache_size: int
    max_workflow_tasks: int
    max_activities: int
    workflow_pollers: int
    activity_pollers: int
    task_queue_activities_per_second: float | None
    shutdown_grace: timedelta

    @classmethod
    def for_machine(
        cls, settings: Settings, cpus: int | None = None, memory_bytes: int | None = None
    ) -> WorkerTuning:
        cores = max(1, cpus if cpus is not None else (os.cpu_count() or 1))
        memory = memory_bytes if memory_bytes is not None else machine_memory_bytes()
        cache = memory // CACHE_MEMORY_SHARE // CACHED_RUN_BYTES
        return cls(
            cache_size=_given(
                settings.worker_cache_size, min(CACHE_CEILING, max(CACHE_FLOOR, cache))
            ),
            max_workflow_tasks=_given(settings.worker_max_workflow_tasks, max(10, 10 * cores)),
            max_activities=_given(settings.worker_max_activities, min(64, 16 * cores)),
            workflow_pollers=_given(settings.worker_workflow_pollers, min(10, max(2, 2 * cores))),
            activity_pollers=_given(settings.worker_activity_pollers, min(10, max(2, 2 * cores))),
            task_queue_activities_per_second=settings.task_queue_activities_per_second,
            shutdown_grace=timedelta(seconds=settings.worker_shutdown_grace),
        )


def machine_memory_bytes() -> int:
    """Physical memory, or the container's cgroup limit when that is lower (0 if unknown)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 0
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < (physical or int(text) + 1):
            return int(text)
    return physical


def _given(value: int | None, default: int) -> int:
    return default if value is None else value
