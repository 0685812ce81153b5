"""The outcome form read into the API's own OutcomeIn: each disposition's fields, a callback
typed in the borrower's local time, and the model's refusals for what is missing or wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from api.desk.forms import outcome_from_form


def test_a_callback_typed_in_the_borrowers_local_time_is_that_instant() -> None:
    outcome = outcome_from_form(
        {"outcome": "callback_requested", "callback_at": "2026-12-11T19:30"}, "Asia/Shanghai"
    )
    assert outcome.at == datetime(2026, 12, 11, 11, 30, tzinfo=UTC)


def test_a_promise_takes_its_amount_date_and_payee_and_ignores_the_other_fieldsets() -> None:
    outcome = outcome_from_form(
        {
            "outcome": "promise_to_pay",
            "promise_amount": "600.00",
            "promise_date": "2026-12-14",
            "pay_to": "the app",
            "hardship_cause": "typed, then the collector changed their mind",
            "notes": " ",
        },
        "Asia/Shanghai",
    )
    assert outcome.promise is not None
    assert (outcome.promise.amount, outcome.promise.promised_date) == (
        Decimal("600.00"),
        date(2026, 12, 14),
    )
    assert outcome.promise.pay_to == "the app"
    assert outcome.hardship is None and outcome.notes is None


def test_hardship_carries_its_term_and_whether_it_is_surmountable() -> None:
    outcome = outcome_from_form(
        {
            "outcome": "hardship",
            "hardship_cause": "lost job",
            "hardship_term": "short",
            "hardship_surmountable": "yes",
        },
        None,
    )
    assert outcome.hardship is not None
    assert (outcome.hardship.term, outcome.hardship.surmountable) == ("short", True)


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"outcome": "promise_to_pay", "promise_amount": "-5", "promise_date": "2026-12-14"}, "0"),
        ({"outcome": "promise_to_pay", "promise_amount": "", "promise_date": ""}, "promise"),
        ({"outcome": "refused", "reason": ""}, "reason"),
        ({"outcome": "callback_requested"}, "at"),
        ({"outcome": "callback_requested", "callback_at": "tomorrow"}, "datetime"),
        ({"outcome": "teleported"}, "outcome"),
    ],
)
def test_what_the_api_would_refuse_the_form_refuses_with_the_models_words(
    form: dict[str, str], words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        outcome_from_form(form, "Asia/Shanghai")
    assert words in str(refused.value)
