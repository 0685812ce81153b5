"""The contract's error envelope: every 4xx/5xx body is {"error": {code, message, details}}."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import decimal_encoder, jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.vocabulary import ErrorCode

_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID_INPUT,
    429: ErrorCode.TOO_MANY_REQUESTS,
    500: ErrorCode.INTERNAL_ERROR,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


class ErrorBody(BaseModel):
    """What went wrong: a stable snake_case code to branch on, a sentence for people, and
    details (for invalid input, pydantic's list of `{loc, msg, type, ...}`; else mostly null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "invalid_input",
                    "message": "Invalid input — amount: Value error, The amount 100.005 has more "
                    "decimals than CNY allows (at most 2 decimal places).",
                    "details": [
                        {
                            "type": "value_error",
                            "loc": ["body", "amount"],
                            "msg": "Value error, The amount 100.005 has more decimals than CNY "
                            "allows (at most 2 decimal places).",
                            "input": "100.005",
                        }
                    ],
                }
            ]
        }
    )

    code: str = Field(description="snake_case, stable: branch on this", examples=["not_found"])
    message: str = Field(
        description="a human sentence saying what is wrong", examples=["No account L-1 is known."]
    )
    details: Any = Field(default=None, description="structured detail, or null")


class ErrorEnvelope(BaseModel):
    """Every 4xx/5xx body (CONTRACT.md "Errors")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "not_found",
                        "message": "No account L-1001 is known.",
                        "details": None,
                    }
                }
            ]
        }
    )

    error: ErrorBody


class ApiError(Exception):
    """An error the API answers on purpose, with a stable code and a human sentence."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def raise_known_update_failure(
    failure: WorkflowUpdateFailedError, known: Mapping[str, tuple[int, str]]
) -> None:
    """A workflow validator's business refusal (an ApplicationError type listed in `known`)
    becomes its HTTP status and code with the workflow's own sentence; anything else is left to
    the caller to re-raise."""
    cause = failure.cause
    if isinstance(cause, ApplicationError) and cause.type and cause.type in known:
        status, code = known[cause.type]
        # A refusal's one detail (a dict naming what conflicts) is the error's details.
        details = cause.details[0] if len(cause.details) == 1 else None
        raise ApiError(status, code, cause.message, details) from failure


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def validation_error_body(errors: list[Any]) -> dict[str, Any]:
    """The envelope of a 422 from pydantic's error list (also one batch item's error). The input
    echoes are made JSON-compliant first: a NaN or an infinity (float or Decimal) becomes its
    name, a string that cannot be UTF-8 its escaped form, so answering bad input never fails."""
    cleaned = jsonable_encoder(
        errors, custom_encoder={Exception: str, Decimal: _decimal_echo, float: _float_echo}
    )
    cleaned = _utf8_safe(cleaned)
    for error in cleaned:
        error.pop("url", None)
    return error_body("invalid_input", _describe_validation(cleaned), cleaned)


def _decimal_echo(value: Decimal) -> Any:
    return decimal_encoder(value) if value.is_finite() else str(value)


def _float_echo(value: float) -> Any:
    return value if math.isfinite(value) else str(value)


def _utf8_safe(value: Any) -> Any:
    """Strings that UTF-8 cannot encode (lone surrogates) as their backslash escapes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_utf8_safe(k): _utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8_safe(item) for item in value]
    return value


def _describe_validation(errors: list[Any]) -> str:
    """One readable sentence from pydantic's error list: where and what."""
    parts = []
    for error in errors[:3]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "is invalid"))
        parts.append(f"{location}: {message}" if location else message)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "Invalid input — " + "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's "error parsing the body" (bytes that are not UTF-8, JSON nested past
            # the parser's limit): invalid input like any other malformed JSON, with the reason.
            message = f"The body is not valid JSON: {exc.__cause__}."
            return JSONResponse(error_body("invalid_input", message), status_code=422)
        code = _CODES.get(exc.status_code, ErrorCode.ERROR)
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RPCError)
    async def _temporal(_request: Request, exc: RPCError) -> JSONResponse:
        return _temporal_answer(exc)

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _update_timeout(
        _request: Request, _exc: WorkflowUpdateRPCTimeoutOrCancelledError
    ) -> JSONResponse:
        return _unavailable()

    @app.exception_handler(SQLAlchemyError)
    async def _store(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if isinstance(exc, STORE_DOWN):
            return store_unavailable()
        return _internal()

    @app.exception_handler(RuntimeError)
    async def _runtime(_request: Request, exc: RuntimeError) -> JSONResponse:
        if "client connect" in str(exc):  # the Temporal client could not (re)connect
            return _unavailable()
        return _internal()

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _internal()


def _internal() -> JSONResponse:
    return JSONResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status_code=500,
    )


def _unavailable() -> JSONResponse:
    """Temporal did not take the call: nothing was accepted, so the caller may simply retry."""
    return JSONResponse(
        error_body(
            "service_unavailable", "Temporal is not reachable; nothing was accepted, retry."
        ),
        status_code=503,
        headers={"Retry-After": "1"},
    )


STORE_DOWN = (OperationalError, InterfaceError, DisconnectionError, SQLAlchemyTimeoutError)
"""What SQLAlchemy raises when the store cannot be reached (refused, gone, pool exhausted), as
opposed to a query the store refused (IntegrityError, a bug: 500)."""


def store_unavailable() -> JSONResponse:
    """The store did not answer: every endpoint reads it before it hands anything to a workflow,
    so nothing was accepted and the caller may retry; /health says `database: down` alike."""
    return JSONResponse(
        error_body(
            "service_unavailable",
            "The store is not reachable; nothing was accepted, retry.",
            ["database"],
        ),
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _temporal_answer(exc: RPCError) -> JSONResponse:
    """A Temporal call refused outside an endpoint's own handling: a workflow that is not there is
    404, a request Temporal calls invalid (e.g. an id over its length limit) 422, everything else
    503 — the call was not accepted, retrying is safe."""
    if exc.status == RPCStatusCode.NOT_FOUND:
        return JSONResponse(error_body("not_found", "No such account or workflow."), 404)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        message = f"Temporal refused the request as invalid: {exc.message}"
        return JSONResponse(error_body("invalid_input", message), status_code=422)
    return _unavailable()


MIB = 1024 * 1024
BODY_LIMIT = 1 * MIB
"""The largest body of a single call: an account with every instalment fits many times over."""
BATCH_BODY_LIMIT = 16 * MIB
"""The largest body of a `:batch` call (1,000 accounts)."""
JSON_EXEMPT_PREFIXES = ("/v1/webhooks/", "/codec/", "/desk/")
"""Bodies that are not JSON by design: Twilio posts forms; the codec endpoint parses itself;
the desk (api/desk) posts HTML forms."""


def body_limit_for(path: str) -> int:
    return BATCH_BODY_LIMIT if path.endswith(":batch") else BODY_LIMIT


def _too_large(limit: int) -> str:
    return f"The request body is larger than this endpoint accepts ({limit // MIB} MiB)."


class BodyLimitMiddleware:
    """Refuses oversized bodies with 413 and non-JSON bodies with 415, in the error envelope,
    before anything reads them. A declared Content-Length over the limit is refused at once; a
    body streamed without one is counted as it is read and refused when it passes the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = body_limit_for(path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await answer(send, 413, "payload_too_large", _too_large(limit))
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = (declared is not None and declared.strip() not in ("", "0")) or (
            "chunked" in headers.get("transfer-encoding", "")
        )
        if (
            has_body
            and content_type
            and not _is_json(content_type)
            and scope.get("method") in ("POST", "PUT", "PATCH")
            and not path.startswith(JSON_EXEMPT_PREFIXES)
        ):
            await answer(
                send,
                415,
                "unsupported_media_type",
                f"The body must be JSON (Content-Type: application/json), not {content_type}.",
            )
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


async def answer(
    send: Send, status: int, code: str, message: str, body: dict[str, Any] | None = None
) -> None:
    """Answer from a middleware, before any route ran: the envelope of `code` and `message`, or
    `body` when the caller built the envelope itself."""
    response = JSONResponse(body or error_body(code, message), status_code=status)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
