"""JSON the API refuses before any route reads it: text Python can parse but nothing downstream
can hold (CONTRACT.md "Errors": invalid input is 422 and nothing reaches a workflow).

Three shapes got through as 400s, 500s or a frozen account: a control character such as NUL
(PostgreSQL cannot hold it in text, so the activity recording it failed at every retry); a lone
UTF-16 surrogate (`"\\ud800"`), valid JSON and a valid Python `str` that cannot be encoded as
UTF-8, so the first encoder downstream (the response, the workflow's payload converter, the
store) raised UnicodeEncodeError; and JSON nested deeper than the parser's recursion limit, which
made FastAPI answer 400. All are caller mistakes, so all are a 422 in the error envelope here,
for every endpoint at once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import JSON_EXEMPT_PREFIXES, answer
from domain.limits import FORBIDDEN_CONTROL

MAX_DEPTH = 32
"""Deeper than any body of the contract (a batch of accounts is 6 levels) by a wide margin."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[" + "".join(sorted(FORBIDDEN_CONTROL)) + "]")


class InputProblem(ValueError):
    """Where in the body the problem is, and what it is."""

    def __init__(self, location: list[str | int], message: str, kind: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message
        self.kind = kind


def check_json(document: Any) -> None:
    """Raise InputProblem for the first string with a lone surrogate (key or value) or the first
    container nested deeper than MAX_DEPTH. Iterative, so the check itself cannot recurse too
    deep."""
    pending: list[tuple[Any, list[str | int]]] = [(document, [])]
    while pending:
        value, location = pending.pop()
        if len(location) > MAX_DEPTH:
            raise InputProblem(
                location[:MAX_DEPTH],
                f"The body is nested deeper than {MAX_DEPTH} levels.",
                "json_too_deep",
            )
        if isinstance(value, str):
            _check_text(value, location)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, [*location, "<key>"])
                pending.append((item, [*location, key]))
        elif isinstance(value, list):
            pending.extend((item, [*location, index]) for index, item in enumerate(value))


def _check_text(text: str, location: list[str | int]) -> None:
    control = _CONTROL.search(text)
    if control:
        raise InputProblem(
            location,
            f"The text holds the control character \\u{ord(control.group()):04x}, which no "
            "store can hold (domain/limits.py): send printable text.",
            "string_control_character",
        )
    found = _SURROGATE.search(text)
    if found:
        code = f"\\u{ord(found.group()):04x}"
        raise InputProblem(
            location,
            f"The text holds a lone UTF-16 surrogate ({code}), which is not a character: send "
            "valid Unicode.",
            "string_unicode",
        )


def problem_body(problem: InputProblem) -> dict[str, Any]:
    """The 422 envelope for a problem found by check_json (no input echo: it may be PII)."""
    where = ".".join(str(part) for part in problem.location)
    message = f"Invalid input — {where}: {problem.message}" if where else problem.message
    detail = {"loc": ["body", *problem.location], "msg": problem.message, "type": problem.kind}
    return {"error": {"code": "invalid_input", "message": message, "details": [detail]}}


class JsonGuardMiddleware:
    """Reads a JSON body once (BodyLimitMiddleware, outside it, has already bounded its size),
    refuses lone surrogates and deep nesting with 422, and hands the same bytes on. Bodies that
    are not JSON at all are left to the route, which already answers them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("POST", "PUT", "PATCH")
            or str(scope.get("path", "")).startswith(JSON_EXEMPT_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        try:
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                more = bool(message.get("more_body", False))
        except StarletteHTTPException as exc:  # 413 from the size limit, counted as read
            await answer(send, exc.status_code, "payload_too_large", str(exc.detail))
            return
        body = b"".join(chunks)
        problem = _problem_in(body)
        if problem is not None:
            await answer(send, 422, "invalid_input", "", body=problem_body(problem))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _problem_in(body: bytes) -> InputProblem | None:
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except RecursionError:
        return InputProblem(
            [], f"The body is nested deeper than {MAX_DEPTH} levels.", "json_too_deep"
        )
    except ValueError:  # not JSON, or not UTF-8: the route's parser says so with a 422
        return None
    try:
        check_json(document)
    except InputProblem as problem:
        return problem
    return None
