"""Mask phone numbers and borrower names in application logs (DESIGN.md, "PII stays protected").

The payload codec keeps PII out of Temporal; logs are the other place it leaks: an exception
message quoting an account, a pydantic repr in a debug line, a Twilio error naming the number, a
search in an access line's query string. Logs are shipped, kept and read by more people than the
data itself, so every record is masked before any handler sees it, by the one rule the API masks
with too (core/pii.py: libphonenumber finds the numbers, last four digits shown, names by key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core.pii import MASK, mask, mask_query_strings

__all__ = ["MASK", "PiiMaskingFilter", "install", "mask", "mask_record", "uninstall"]

ACCESS_LOGGER = "uvicorn.access"


def _mask_access_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """uvicorn's access record keeps its arguments (client, method, path, HTTP version, status):
    its formatter unpacks them, so they are masked in place instead of being rendered away. The
    path's query string is masked by key (a loan id in the path is fine, a name in `?q=` is not)."""
    return tuple(mask(mask_query_strings(a)) if isinstance(a, str) else a for a in args)


def mask_record(record: logging.LogRecord) -> None:
    """Render the message once, masked, so no handler or formatter can see the raw arguments;
    the same for a traceback attached to the record."""
    if getattr(record, "_pii_masked", False):
        return
    if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
        record.args = _mask_access_args(record.args)
        record._pii_masked = True
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return
    masked = mask(mask_query_strings(message))  # a URL in any line (httpx logs its requests)
    if masked != message:  # arguments kept when there was nothing to hide (formatters read them)
        record.msg, record.args = masked, None
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
