"""Mask phone numbers and borrower names in application logs (DESIGN.md, "PII stays protected").

The payload codec keeps PII out of Temporal; logs are the other place it leaks: an exception
message quoting an account, a pydantic repr in a debug line, a Twilio error naming the number.
Logs are shipped, kept and read by more people than the data itself, so every record is masked
before any handler sees it:

- phone numbers (E.164 `+8613800138000`, or 7+ digits with spaces, dashes, dots or brackets) keep
  their last two digits: `+*********00`, enough to tell two numbers apart in an incident;
- names and addresses are found by the key they travel under (`name=`, `"name": "..."`,
  `name='...'`, `borrower_name`, `contact_name`, `full_name`, `address`), since a free-text name
  cannot be recognised by its shape; the value becomes `***`.

Loan ids, workflow ids, amounts and dates are not PII here and stay readable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "***"

_PHONE = re.compile(r"(?<![\w/.:-])\+?(?:[\s().-]{0,2}\d){7,15}\b")
# Shapes that are digits but not phones: ISO dates (also with the hour of a following time,
# "2026-11-30 10" of "2026-11-30 10:00:00"), decimals (amounts), IPv4 addresses.
_NOT_A_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2})?|\d+\.\d+|\d{1,3}(?:\.\d{1,3}){3}")
_NAME_KEYS = r"(?:borrower_|contact_|full_|first_|last_)?name|address|street|addressee"
_QUOTED_FIELD = re.compile(
    rf"""(?P<key>['"]?\b(?:{_NAME_KEYS})\b['"]?\s*[:=]\s*)"""
    r"""(?P<quote>['"])(?P<value>(?:\\.|(?!(?P=quote)).)*)(?P=quote)""",
    re.IGNORECASE,
)
_BARE_FIELD = re.compile(
    r"(?P<key>\b(?:(?:borrower_|contact_|full_|first_|last_)?name|addressee)=)"
    r"""(?P<value>[^\s,;)'"]+)""",
    re.IGNORECASE,
)


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if _NOT_A_PHONE.fullmatch(text.strip()):
        return text
    digits = [c for c in text if c.isdigit()]
    lead = text[: len(text) - len(text.lstrip())]
    plus = "+" if text.lstrip().startswith("+") else ""
    return lead + plus + "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask(text: str) -> str:
    """The text with names, addresses and phone numbers masked."""
    text = _QUOTED_FIELD.sub(
        lambda m: f"{m.group('key')}{m.group('quote')}{MASK}{m.group('quote')}", text
    )
    text = _BARE_FIELD.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _PHONE.sub(_mask_phone, text)


def mask_record(record: logging.LogRecord) -> None:
    """Render the message once, masked, so no handler or formatter can see the raw arguments;
    the same for a traceback attached to the record."""
    if getattr(record, "_pii_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return
    record.msg, record.args = mask(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    record._pii_masked = True


class PiiMaskingFilter(logging.Filter):
    """A handler filter that masks PII in every record it passes (for logging configs that wire
    filters explicitly, e.g. dictConfig in production)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_installed: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Mask every record of this process, whichever logger or handler it goes through (uvicorn
    and the Temporal SDK configure their own handlers after ours): records are masked as they are
    created. Idempotent."""
    global _installed
    if _installed is not None:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = previous
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())


def uninstall() -> None:
    """Restore the previous record factory (tests)."""
    global _installed
    if _installed is None:
        return
    logging.setLogRecordFactory(_installed)
    _installed = None
    for handler in logging.getLogger().handlers:
        for existing in [f for f in handler.filters if isinstance(f, PiiMaskingFilter)]:
            handler.removeFilter(existing)
