"""The simulator keeps off the instants the workflows wake at, and says which run the test server
stranded instead of waiting for ever (simulator/stalls.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from simulator.stalls import STRANDED_CHECKS, StrandedWatch, off_grid

AT = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def test_a_stop_never_lands_on_a_whole_minute_or_a_whole_second() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        offset = off_grid(rng)
        assert timedelta(seconds=5) <= offset < timedelta(seconds=55)
        assert offset.microseconds > 0  # never a whole second: no workflow wakes there


def test_the_same_seed_puts_the_stops_at_the_same_instants() -> None:
    first = [off_grid(random.Random(3)) for _ in range(5)]
    again = [off_grid(random.Random(3)) for _ in range(5)]
    assert first == again


def test_a_workflow_task_outstanding_through_every_check_at_one_instant_fails_the_run() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT, ["account-L-1: workflow task", "account-L-2: activity send_sms"])
    with pytest.raises(RuntimeError, match=r"stranded account-L-1 at .*sdk-java#3088"):
        watch.check(AT, ["account-L-1: workflow task"])


def test_a_clock_that_moved_or_a_task_that_finished_starts_the_count_again() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT, ["account-L-1: workflow task"])
    watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])  # the clock moved
    for _ in range(STRANDED_CHECKS - 2):
        watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])
    watch.check(AT + timedelta(minutes=1), [])  # its task finished
    for _ in range(STRANDED_CHECKS - 1):
        watch.check(AT + timedelta(minutes=1), ["account-L-1: workflow task"])


def test_an_activity_in_flight_never_counts_as_stranded() -> None:
    watch = StrandedWatch(stall_seconds=20)
    for _ in range(STRANDED_CHECKS * 3):
        watch.check(AT, ["account-L-1: activity send_letter"])
