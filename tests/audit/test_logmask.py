"""Logs mask phone numbers and borrower names (DESIGN.md, "PII stays protected"), whichever
logger or handler a record goes through, tracebacks included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from core import logmask
from core.logmask import PiiMaskingFilter, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sms to +8613800138000 failed", "sms to +*********8000 failed"),
        ("call +86 138 0013 8000", "call +** *** **** 8000"),
        ("Twilio POST To=%2B8613800138000&Body=hi", "Twilio POST To=+*********8000&Body=hi"),
        ("dial 13800138000 now", "dial *******8000 now"),
        ("Borrower(name='Wang Fang', locale='zh-CN')", "Borrower(name='***', locale='zh-CN')"),
        ('{"name": "Wang Fang", "address": "1 Renmin Road"}', '{"name": "***", "address": "***"}'),
        ("contact_name=Li", "contact_name=***"),
    ],
)
def test_phone_numbers_names_and_addresses_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "account-L-1001 due 2026-12-01 amount 12345.67 at 2026-11-28T15:31:05Z",
        "run 3f6c7938-730d-450b-91ca-53ae50f31ee8 on 192.168.100.200:7233",
    ],
)
def test_dates_amounts_ids_and_addresses_of_machines_stay_readable(text: str) -> None:
    assert mask(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A handler added AFTER masking is installed (as uvicorn and the SDK do)."""
    logmask.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.audit.logmask")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logmask.uninstall()


def test_records_are_masked_before_any_handler_sees_them(captured: io.StringIO) -> None:
    log = logging.getLogger("tests.audit.logmask")
    log.info("delivered to %s for %r", "+8613800138000", {"name": "Wang Fang"})
    try:
        raise RuntimeError("Twilio 21211: +8613800138000 is not a valid number")
    except RuntimeError:
        log.exception("send failed for name='Wang Fang'")
    text = captured.getvalue()
    assert "8613800138000" not in text and "Wang Fang" not in text
    assert "+*********8000" in text and "Traceback" in text


def test_the_filter_masks_for_logging_configs_that_wire_it_explicitly() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s", ("+8613800138000",), None)
    assert PiiMaskingFilter().filter(record) is True
    assert record.getMessage() == "to +*********8000"
