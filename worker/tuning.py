"""How much one worker process takes on: cache, slots, pollers, rate limits.

Every value is a setting (README, "Configuration"); what is not set is sized for the machine the
worker starts on, from its CPU count. Workflow tasks run Python under one GIL, so more slots than
a few per core only queue; activities spend their time waiting on the store and the SMS provider,
so they get many threads per core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from core.settings import Settings


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
    def for_machine(cls, settings: Settings, cpus: int | None = None) -> WorkerTuning:
        cores = max(1, cpus if cpus is not None else (os.cpu_count() or 1))
        return cls(
            cache_size=_given(settings.worker_cache_size, min(4000, 500 * cores)),
            max_workflow_tasks=_given(settings.worker_max_workflow_tasks, max(10, 10 * cores)),
            max_activities=_given(settings.worker_max_activities, min(64, 16 * cores)),
            workflow_pollers=_given(settings.worker_workflow_pollers, min(10, max(2, 2 * cores))),
            activity_pollers=_given(settings.worker_activity_pollers, min(10, max(2, 2 * cores))),
            task_queue_activities_per_second=settings.task_queue_activities_per_second,
            shutdown_grace=timedelta(seconds=settings.worker_shutdown_grace),
        )


def _given(value: int | None, default: int) -> int:
    return default if value is None else value
