"""The SMS provider's messages-per-second limit, at the provider call.

Twilio queues what a sender cannot send yet and bills the queue; a burst of due reminders (a
morning's window opening for a whole portfolio) must not outrun the sender's throughput. Every
SMS goes through `apply_moment` with the moment's other effects, so the limit sits where the
message leaves, shared by all activity threads of the worker process (per process: N workers
send at most N times the rate; ARREARS_TASK_QUEUE_ACTIVITIES_PER_SECOND caps the whole queue).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache


class TokenBucket:
    """`acquire()` blocks until a token is free: `rate` per second, bursts of up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1 - 1e-9:  # float steps must not leave it a hair short forever
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                pause = (1 - self._tokens) / self._rate
            self._sleep(pause)
            waited += pause


@cache
def process_bucket(rate: float) -> TokenBucket:
    """One bucket per rate for the whole process: every SMS channel of the worker shares it."""
    return TokenBucket(rate)
