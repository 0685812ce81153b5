"""Side effects only: each activity does its job, records it in the store, and is safe to retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.borrower import request_grants
from activities.deliver import Deliverer
from activities.loan_system import LoanSystemActivities
from activities.moment import MomentActivities
from activities.policy import find_calendars
from core.settings import Settings


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to this process's configuration."""
    moment = MomentActivities(settings.effective_database_url, Deliverer(settings))
    loan_system = LoanSystemActivities(settings.effective_database_url)
    return [moment.apply_moment, loan_system.post_write_off, find_calendars, request_grants]
