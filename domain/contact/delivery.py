"""What a failed delivery teaches about a number: the policy, as data and one pure function.

A provider tells us a text or a call did not get through in two ways: it refuses the request at
once (a REST error such as Twilio 21211), or it accepts it and a status callback later says
`undelivered` or `failed` with an error code (Twilio 30003-30008). Whichever way it came, the
error code decides what the next contact must respect:

- **dead** (21211 invalid number, 30005 unknown destination): no SMS, automated voice or call
  goes to the number again until a contact-info update brings it back as a new number;
- **no SMS** (21614 not a mobile number, 30006 landline or unreachable carrier): the line exists
  but takes no texts; texts go to another mobile, calls and voice reminders continue;
- **unsubscribed** (21610): the number replied STOP at the carrier; SMS consent for that number
  is withdrawn, exactly as for our own STOP webhook;
- **temporary** (anything else: 30003 unreachable handset, 30008 unknown error, a code-less
  failure): nothing changes at once, but `TEMPORARY_FAILURES_BEFORE_NO_SMS` (3) undelivered
  texts in a row to one number mark it "no SMS" — a handset that has not taken a text in three
  tries is not a channel the ladder should keep paying for. The count restarts when the number
  shows it works (an inbound reply from it) or a contact-info update lists it again; the
  provider's `delivered` callback is not signalled to the workflow, so it cannot reset it.

Only SMS failures count towards "no SMS"; a failed automated call without a dead-number code is
recorded and changes nothing (the collector's call outcomes decide about calls).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "DEAD_CODES",
    "NO_SMS_CODES",
    "TEMPORARY_FAILURES_BEFORE_NO_SMS",
    "UNSUBSCRIBED_CODES",
    "VERDICT_RULES",
    "Verdict",
    "delivery_verdict",
    "verdict_reason",
]

Verdict = Literal["dead", "no_sms", "unsubscribed", "temporary", "ignored"]

DEAD_CODES: dict[int, str] = {
    21211: "invalid number",
    30005: "unknown destination handset",
}
NO_SMS_CODES: dict[int, str] = {
    21614: "not a mobile number",
    30006: "landline or unreachable carrier",
}
UNSUBSCRIBED_CODES: dict[int, str] = {21610: "the recipient unsubscribed"}
TEMPORARY_FAILURES_BEFORE_NO_SMS = 3

# The rule the gate names when it refuses a later contact because of each verdict.
VERDICT_RULES: dict[str, str] = {
    "dead": "number.dead",
    "no_sms": "number.no_sms",
    "unsubscribed": "consent.sms",
}


def delivery_verdict(channel: str, error_code: int | None, *, said_dead: bool = False) -> Verdict:
    """What one failed delivery on `channel` ("sms" or "voice") means for its number.

    `said_dead`: the reporter (a collector, or a webhook without a code) states the number is
    dead; an error code, when there is one, wins over that statement (a landline is not dead)."""
    if error_code in DEAD_CODES:
        return "dead"
    if error_code in NO_SMS_CODES:
        return "no_sms" if channel == "sms" else "ignored"
    if error_code in UNSUBSCRIBED_CODES:
        return "unsubscribed" if channel == "sms" else "ignored"
    if said_dead and error_code is None:
        return "dead"
    return "temporary" if channel == "sms" else "ignored"


def verdict_reason(verdict: Verdict, error_code: int | None, failures_in_a_row: int = 0) -> str:
    """One sentence for the timeline: what was learned and what changes for the next contact."""
    code = f"provider error {error_code}" if error_code is not None else "a failed delivery"
    known = {**DEAD_CODES, **NO_SMS_CODES, **UNSUBSCRIBED_CODES}.get(error_code or 0)
    said = f"{code} ({known})" if known else code
    if verdict == "dead":
        return f"{said}: the number is dead; no text or call goes to it again"
    if verdict == "no_sms":
        if error_code in NO_SMS_CODES:
            return f"{said}: the number cannot receive SMS; texts go elsewhere, calls continue"
        return (
            f"{said}: {failures_in_a_row} texts in a row undelivered; the number gets no more "
            "SMS until a contact-info update lists it again, calls continue"
        )
    if verdict == "unsubscribed":
        return f"{said}: SMS consent for the number is withdrawn"
    if verdict == "temporary":
        return (
            f"{said}: temporary, {failures_in_a_row} of {TEMPORARY_FAILURES_BEFORE_NO_SMS} "
            "undelivered texts in a row before the number gets no more SMS"
        )
    return f"{said}: recorded; nothing changes for the next contact"
