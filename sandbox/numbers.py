"""What the sandbox gateway does with a number: decided from the number alone, so every test and
demo sees the same thing every time.

SMS (`POST .../Messages.json`):

- refused 400, code 21211 (invalid number): anything phonenumbers does not call a valid number,
  and Twilio's magic +15005550001;
- refused 400, code 21610 (unsubscribed recipient): a number that sent STOP (or STOPALL,
  UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) to the gateway with no START since, and
  +15005550004;
- refused 400, code 21614 (not a mobile number): fixed-line, toll-free, premium, shared-cost,
  pager, UAN and voicemail numbers by phonenumbers' number type (e.g. the Shanghai landline
  +862161234567), and +15005550009;
- accepted, then `sent`, then `undelivered` with ErrorCode 30003 (handset unreachable):
  +8613800000404, +12025550404;
- accepted, then `sent`, then `failed` with ErrorCode 30005 (unknown destination, the number is
  dead): +8613800000410, +12025550410;
- any other valid mobile (or mobile-or-fixed) number: accepted, `sent`, `delivered`.

Voice (`POST .../Calls.json`; the final status arrives in the callback, with `AnsweredBy` when
MachineDetection is on):

- refused 400, code 21211: invalid numbers and +15005550001;
- `busy`: +8613800000486, +12025550486;
- `no-answer`: +8613800000408, +12025550408;
- `completed`, AnsweredBy `machine_end_beep` (voicemail): +8613800000460, +12025550460;
- `failed` (the number is dead): +8613800000410, +12025550410;
- any other valid number: `completed`, AnsweredBy `human`, 25 seconds.

The +1500555xxxx numbers are Twilio's own test-credential "magic numbers", so the same tests mean
the same with Twilio's test account.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from activities.channels.keywords import OPT_IN_KEYWORDS, TWILIO_OPT_OUT_KEYWORDS

__all__ = [
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "CallFate",
    "Refusal",
    "SmsFate",
    "call_fate",
    "call_refusal",
    "sms_fate",
    "sms_refusal",
]

# Twilio's own keywords, from the one list our webhook uses too (TD/退订 are ours, not Twilio's).
OPT_OUT_KEYWORDS = TWILIO_OPT_OUT_KEYWORDS

MAGIC_INVALID = "+15005550001"
MAGIC_BLOCKED = "+15005550004"
MAGIC_NOT_MOBILE = "+15005550009"

SMS_UNDELIVERED = frozenset({"+8613800000404", "+12025550404"})
SMS_DEAD = frozenset({"+8613800000410", "+12025550410"})
CALL_BUSY = frozenset({"+8613800000486", "+12025550486"})
CALL_NO_ANSWER = frozenset({"+8613800000408", "+12025550408"})
CALL_MACHINE = frozenset({"+8613800000460", "+12025550460"})
CALL_DEAD = SMS_DEAD

NOT_SMS_CAPABLE = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.PAGER,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)


@dataclass(frozen=True)
class Refusal:
    """A Twilio REST error answer."""

    status: int
    code: int
    message: str


@dataclass(frozen=True)
class SmsFate:
    final_status: str  # delivered | undelivered | failed
    error_code: int | None = None


@dataclass(frozen=True)
class CallFate:
    final_status: str  # completed | busy | no-answer | failed
    answered_by: str | None = None
    duration: int = 0


def _valid(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def _invalid(number: str) -> Refusal:
    return Refusal(400, 21211, f"The 'To' number {number} is not a valid phone number.")


def sms_refusal(to: str, opted_out: set[str]) -> Refusal | None:
    """Twilio's answer to a message it will not take, or None."""
    if to == MAGIC_INVALID or not _valid(to):
        return _invalid(to)
    if to == MAGIC_BLOCKED or to in opted_out:
        return Refusal(400, 21610, "Attempt to send to unsubscribed recipient")
    number_type = phonenumbers.number_type(phonenumbers.parse(to, None))
    if to == MAGIC_NOT_MOBILE or number_type in NOT_SMS_CAPABLE:
        return Refusal(400, 21614, f"'To' number {to} is not a valid mobile number")
    return None


def sms_fate(to: str) -> SmsFate:
    if to in SMS_UNDELIVERED:
        return SmsFate("undelivered", 30003)
    if to in SMS_DEAD:
        return SmsFate("failed", 30005)
    return SmsFate("delivered")


def call_refusal(to: str) -> Refusal | None:
    if to == MAGIC_INVALID or not _valid(to):
        return _invalid(to)
    return None


def call_fate(to: str, machine_detection: bool) -> CallFate:
    if to in CALL_BUSY:
        return CallFate("busy")
    if to in CALL_NO_ANSWER:
        return CallFate("no-answer")
    if to in CALL_DEAD:
        return CallFate("failed")
    if to in CALL_MACHINE:
        return CallFate("completed", "machine_end_beep" if machine_detection else None, 31)
    return CallFate("completed", "human" if machine_detection else None, 25)
