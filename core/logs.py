"""How every long-running process logs (the API, the worker, the sandbox gateway): one line per
record on stderr, JSON by default, masked, with the correlation id and the workflow context.

JSON comes from python-json-logger. It is a formatter for the standard library's logging, and
every library in these processes (uvicorn, the Temporal SDK, Twilio, SQLAlchemy, ours) logs
through the standard library: one formatter on the root handler makes all of their lines JSON
without touching a log call. structlog would have meant a second logging API beside the stdlib's
and its ProcessorFormatter bridge to reach the same place.

Each line carries `timestamp`, `level`, `logger`, `message`, and when known `correlation_id` (the
API request's X-Request-ID, carried into the workflow and its activities by core/correlation.py),
`workflow_id`, `run_id`, `loan_id` and `activity`. Nothing else from a record is copied: extras
such as uvicorn's `color_message` repeat the message unmasked.

`ARREARS_LOG_FORMAT=text` gives a developer the classic one-line form with the same fields;
`arrears up` starts its children with `text` unless the variable is set (its logs are files a
developer reads), every other process defaults to `json` (a platform's collector parses them).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

from core import logmask
from core.correlation import correlation_id, loan_id_of, work_context

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS = ("correlation_id", "workflow_id", "run_id", "loan_id", "activity")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"


def _temporal_details(record: logging.LogRecord) -> Mapping[str, Any]:
    """What the SDK's workflow.logger / activity.logger put in `extra`."""
    for key in ("temporal_activity", "temporal_workflow"):
        details = getattr(record, key, None)
        if isinstance(details, Mapping):
            return details
    return {}


class ContextFilter(logging.Filter):
    """Copies the correlation id and the workflow context onto each record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields: dict[str, Any] = dict(work_context.get() or {})
        details = _temporal_details(record)
        if details:
            fields.setdefault("workflow_id", details.get("workflow_id"))
            fields.setdefault("run_id", details.get("run_id") or details.get("workflow_run_id"))
            if details.get("activity_type"):
                fields.setdefault("activity", details.get("activity_type"))
        if fields.get("workflow_id") and not fields.get("loan_id"):
            fields["loan_id"] = loan_id_of(str(fields["workflow_id"]))
        fields["correlation_id"] = correlation_id.get()
        for name in CONTEXT_FIELDS:
            setattr(record, name, fields.get(name) or None)
        shown = " ".join(f"{n}={fields[n]}" for n in CONTEXT_FIELDS if fields.get(n))
        record.context = f" [{shown}]" if shown else ""
        return True


class JsonLineFormatter(JsonFormatter):
    """The fixed fields above and nothing else from the record; timestamps in UTC."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message", *CONTEXT_FIELDS],
            rename_fields={"levelname": "level", "name": "logger"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["timestamp"] = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + (
            f".{int(record.msecs):03d}Z"
        )
        for field in self._required_fields:
            value = record.__dict__.get(field)
            if value is not None:
                log_data[self._get_rename(field)] = value
        for key in ("exc_info", "stack_info"):
            if message_dict.get(key):
                log_data[key] = logmask.mask(str(message_dict[key]))


def build_handler(fmt: LogFormat = "json", stream: TextIO | None = None) -> logging.Handler:
    """A stderr (or `stream`) handler with the context filter, the PII filter and the format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(logmask.PiiMaskingFilter())
    handler.setFormatter(JsonLineFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(
    fmt: LogFormat = "json", level: str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger of this process (uvicorn's, when started with `log_config=None`, the
    SDK's, ours) through one masked handler on the root logger. Returns the handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    handler = build_handler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # the root's level decides, whoever set one before
    logmask.install()
    return handler
