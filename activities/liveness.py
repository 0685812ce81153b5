"""Heartbeats of the moment activity.

A worker that dies in the middle of a moment was noticed only when the 60 s start-to-close
timeout ran out. The moment now heartbeats before each delivery (each one is bounded by the
provider client's 10 s timeout), and the workflow gives it a heartbeat timeout of 30 s, so another
worker takes the moment over within half a minute; every channel is exactly-once, so the retry
re-sends nothing that already went out."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

TAKE_OVER_WITHIN = timedelta(seconds=45)
"""The promise (docs/reliability.md): a dead worker's moment is retried by another worker within
this, well before the 60 s start-to-close timeout. Held by tests/workflows/test_moment_liveness.py
(the options the workflow schedules the moment with) and the SMS-in-flight fault test."""


def heartbeat() -> None:
    """Tell Temporal the moment is still being worked (a no-op outside an activity: tests call
    the activity's code directly)."""
    if activity.in_activity():
        activity.heartbeat()
