"""Words the templates translate by value (task kinds, dispositions, refusal reasons, roles),
listed here so `pybabel extract` puts them in the catalogue."""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802  (gettext's conventional marker name)
    """Mark for extraction; translated where it is shown."""
    return text


WORDS = (
    N_("call"),
    N_("field_visit"),
    N_("sms"),
    N_("voice"),
    N_("letter"),
    N_("skip_trace"),
    N_("verification"),
    N_("approval"),
    N_("collector"),
    N_("supervisor"),
    N_("auditor"),
    N_("promise_to_pay"),
    N_("paid_claimed"),
    N_("no_answer"),
    N_("busy"),
    N_("wrong_number"),
    N_("number_dead"),
    N_("third_party"),
    N_("refused"),
    N_("hardship"),
    N_("callback_requested"),
    N_("deceased_reported"),
    N_("bankruptcy_reported"),
    N_("restructure_accepted"),
    N_("restructure_declined"),
    N_("visited_met"),
    N_("visited_not_met"),
    N_("address_invalid"),
    N_("found"),
    N_("not_found"),
    N_("verified"),
    N_("not_verified"),
    N_("approved"),
    N_("rejected"),
    N_("complaint"),
    N_("collector_grievance"),
    N_("fraud_suspected"),
    N_("other"),
)
