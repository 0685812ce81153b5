"""Heartbeats of the moment activity.

A worker that dies in the middle of a moment was noticed only when the 60 s start-to-close
timeout ran out. The moment now heartbeats before each delivery (each one is bounded by the
provider client's 10 s timeout), and the workflow gives it a heartbeat timeout of 30 s, so another
worker takes the moment over within half a minute; every channel is exactly-once, so the retry
re-sends nothing that already went out."""

from __future__ import annotations

from temporalio import activity


def heartbeat() -> None:
    """Tell Temporal the moment is still being worked (a no-op outside an activity: tests call
    the activity's code directly)."""
    if activity.in_activity():
        activity.heartbeat()
