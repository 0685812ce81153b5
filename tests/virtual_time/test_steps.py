"""How an advance chooses its steps and which requests it refuses, without a server: a step ends
just past the next moment anyone named, never more than MAX_STEP ahead and never beyond the
target; the clock only moves forward, and at most MAX_ADVANCE at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.errors import ApiError
from api.services.clock import MAX_ADVANCE, MAX_STEP, PAST_MOMENT, next_step, target_of

NOW = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)


def test_a_step_ends_just_past_the_next_moment_so_its_timer_fires_inside_the_step() -> None:
    moments = [NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=2), NOW + timedelta(hours=3)]
    assert (
        next_step(NOW, NOW + timedelta(days=5), moments) == NOW + timedelta(hours=2) + PAST_MOMENT
    )


def test_a_step_is_never_longer_than_the_maximum_nor_past_the_target() -> None:
    far = [NOW + timedelta(days=30)]
    assert next_step(NOW, NOW + timedelta(days=5), far) == NOW + MAX_STEP
    assert next_step(NOW, NOW + timedelta(hours=3), far) == NOW + timedelta(hours=3)
    # A moment right at the target: the step ends at the target, not a second past it.
    at_target = [NOW + timedelta(hours=3)]
    assert next_step(NOW, NOW + timedelta(hours=3), at_target) == NOW + timedelta(hours=3)


def test_days_and_hours_add_up_and_until_is_taken_as_given() -> None:
    assert target_of(NOW, 1, 12, None) == NOW + timedelta(days=1, hours=12)
    assert target_of(NOW, None, 5, None) == NOW + timedelta(hours=5)
    until = NOW + timedelta(days=40)
    assert target_of(NOW, None, None, until) == until
    assert target_of(NOW, MAX_ADVANCE.days, None, None) == NOW + MAX_ADVANCE


@pytest.mark.parametrize(
    ("days", "hours", "until", "says"),
    [
        (None, None, None, "how far"),
        (0, 0, None, "only moves forward"),
        (None, None, NOW, "only moves forward"),
        (None, None, NOW - timedelta(seconds=1), "only moves forward"),
        (MAX_ADVANCE.days, 1, None, f"at most {MAX_ADVANCE.days} days"),
        (1, None, NOW + timedelta(days=1), "either"),
    ],
)
def test_an_advance_that_is_missing_backwards_or_too_far_is_a_422(
    days: int | None, hours: int | None, until: datetime | None, says: str
) -> None:
    with pytest.raises(ApiError) as refused:
        target_of(NOW, days, hours, until)
    assert refused.value.status == 422 and refused.value.code == "invalid_input"
    assert says in refused.value.message.lower()
