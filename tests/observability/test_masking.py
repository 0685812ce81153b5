"""One masking rule for the logs and the API (issue 21 item 6, issue 18 item 3): a phone number
reads the same in a log line and in `/actions`, numbers are found by libphonenumber in any
format or URL encoding, and uvicorn's access lines are written, masked, instead of failing."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from uvicorn.logging import AccessFormatter

from api.app import create_app
from api.services import masking
from core import logmask, pii
from core.logs import configure_logging
from core.serving import listening_socket, url_of
from core.settings import Settings

REASON = "no answer on +8613800139000, next number 138 0013 8000 (CN)"


def test_a_phone_in_a_log_line_and_in_actions_is_masked_by_the_same_function() -> None:
    assert masking.mask_numbers_in is pii.mask_numbers_in
    assert masking.mask_phone is pii.mask_phone
    logged = logmask.mask(f"action 4 failed: {REASON}")
    shown = masking.mask_numbers_in({"reason": REASON, "to": "+8613800139000"})
    assert shown == {
        "reason": "no answer on +*********9000, next number *** **** 8000 (CN)",
        "to": "+*********9000",
    }
    assert logged == f"action 4 failed: {shown['reason']}"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("POST To=%2B8613800138000&Body=hi", "POST To=+*********8000&Body=hi"),
        ("To=%2B1%20202%20555%200143", "To=+* *** *** 0143"),
        ("call (202) 555-0143 today", "call (***) ***-0143 today"),
        ("paid 1205.40 on 2026-12-01 at 10:30:00, run 3f6c7938-730d-450b", None),
    ],
)
def test_numbers_are_found_in_any_format_and_url_encoding(text: str, masked: str | None) -> None:
    assert pii.mask(text) == (masked if masked is not None else text)


def test_query_values_are_masked_unless_their_key_carries_no_borrower_data() -> None:
    line = "/v1/accounts?q=Wang%20Fang&state=delinquent&cursor=abc&to=%2B8613800138000"
    assert pii.mask_query_strings(line) == "/v1/accounts?q=***&state=delinquent&cursor=abc&to=***"


def _access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_uvicorns_own_access_formatter_still_formats_a_masked_record() -> None:
    record = _access_record("/v1/accounts/L-1001/actions?q=Wang%20Fang")
    logmask.mask_record(record)
    line = AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s').format(record)
    assert line == '127.0.0.1:5000 "GET /v1/accounts/L-1001/actions?q=*** HTTP/1.1" 200 OK'


class _Server(uvicorn.Server):
    """uvicorn as `arrears api` runs it, minus its signal handlers (Ctrl-C is pytest's)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
def process_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("json", "INFO", stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logmask.uninstall()


async def test_the_apis_access_lines_are_written_as_json_with_the_query_masked(
    settings: Settings, process_logs: io.StringIO
) -> None:
    sock = listening_socket()
    server = _Server(
        uvicorn.Config(create_app(settings), log_config=None, access_log=True, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url_of(sock)) as http:
            answered = await http.get(
                "/v1/accounts/L-1001/actions?q=Wang%20Fang&state=delinquent",
                headers={"X-Request-ID": "req-access-1"},
            )
            assert answered.status_code == 401
            await http.get("/v1/accounts/L-1001/actions?q=%2B8613800138000")
    finally:
        server.should_exit = True
        await task
        sock.close()
    lines = [json.loads(line) for line in process_logs.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) == 2, lines
    path = "/v1/accounts/L-1001/actions"
    assert f'"GET {path}?q=***&state=delinquent HTTP/1.1" 401' in access[0]["message"]
    assert f'"GET {path}?q=*** HTTP/1.1" 401' in access[1]["message"]
    text = process_logs.getvalue()
    assert "Wang" not in text and "8613800138000" not in text and "Traceback" not in text
