"""What the worker's policy directory holds now, asked by an episode at continue-as-new.

The registry is the worker's configuration, not the workflow's history: reading it inside
workflow code would let a replay on a worker with other files decide differently. So an episode
that wants a calendar year it has not pinned (one published after it started) asks through this
local activity, and the answer is recorded in its history like any other fact.
"""

from __future__ import annotations

from temporalio import activity

from domain.policy import (
    FIND_CALENDARS,
    CalendarQuery,
    PolicyRef,
    calendar_year_of,
    installed_registry,
)


@activity.defn(name=FIND_CALENDARS)
async def find_calendars(query: CalendarQuery) -> list[PolicyRef]:
    """The references of the asked years of a region that this worker's directory holds."""
    wanted = set(query.years)
    return [
        ref
        for ref in installed_registry().calendar_refs(query.region)
        if calendar_year_of(ref) in wanted
    ]
