"""The outcome form as the JSON API's model: the fields a disposition needs are read from the
form and validated by `OutcomeIn` itself (domain/outcomes.py), so the desk and the API refuse the
same input with the same words. A callback time is typed in the borrower's local time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.outcomes import OUTCOMES_BY_TASK_KIND, OutcomeIn

OUTCOME_CHOICES = OUTCOMES_BY_TASK_KIND
"""The dispositions each task kind takes (the contract's), in the order the form lists them."""


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def outcome_from_form(form: dict[str, str], zone: str | None) -> OutcomeIn:
    """The form's fields as the API's OutcomeIn; pydantic's ValidationError for bad input."""
    body: dict[str, Any] = {"outcome": form.get("outcome", "")}
    if notes := _blank(form.get("notes")):
        body["notes"] = notes
    outcome = body["outcome"]
    if outcome == "promise_to_pay":
        promise: dict[str, Any] = {
            "amount": _blank(form.get("promise_amount")),
            "promised_date": _blank(form.get("promise_date")),
        }
        if pay_to := _blank(form.get("pay_to")):
            promise["pay_to"] = pay_to
        body["promise"] = promise
    if outcome == "refused":
        body["reason"] = _blank(form.get("reason"))
    if outcome == "callback_requested" and (typed := _blank(form.get("callback_at"))):
        try:
            local = datetime.fromisoformat(typed)
        except ValueError:
            body["at"] = typed  # the model says what is wrong with it
        else:
            tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
            body["at"] = local if local.tzinfo else local.replace(tzinfo=tz)
    if outcome == "hardship":
        body["hardship"] = {
            "cause": _blank(form.get("hardship_cause")),
            "term": _blank(form.get("hardship_term")),
            "surmountable": form.get("hardship_surmountable") == "yes",
        }
    return OutcomeIn.model_validate(body)
