"""How a decision's `Refused` leaves an update's validator: as the non-retryable
`ApplicationError` of its type, which the API maps to an HTTP answer (api/services/episodes.py).
The decisions stay free of temporalio; only this module and the workflow class know the shape
Temporal needs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from temporalio.exceptions import ApplicationError

from workflows.account.episode import Refused

__all__ = ["check", "refusing"]


@contextlib.contextmanager
def refusing() -> Iterator[None]:
    """Inside: a `Refused` becomes the ApplicationError the update is rejected with."""
    try:
        yield
    except Refused as refused:
        raise ApplicationError(
            refused.message, *refused.details, type=refused.type, non_retryable=True
        ) from None


def check(decision: Callable[[], None]) -> None:
    """Run one check; its refusal rejects the update before it enters history."""
    with refusing():
        decision()
