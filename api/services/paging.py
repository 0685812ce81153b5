"""Cursor pagination for the listings that answered a plain JSON list before it (tasks, actions,
messages; issue 15), added without changing their answers: the body stays the list, and when
more follows the response carries the next page's cursor in `X-Next-Cursor` (and a `Link:
<...>; rel="next"` to it). A request without `cursor` gets the first page, as before.

A cursor is opaque to clients: base64 of a small JSON object naming the listing it belongs to,
so one listing's cursor sent to another is refused (422) rather than read as a wrong position.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from fastapi import Request, Response

from api.errors import ApiError

NEXT_CURSOR_HEADER = "X-Next-Cursor"


def encode(listing: str, position: dict[str, Any]) -> str:
    raw = json.dumps({"v": 1, "l": listing, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(listing: str, cursor: str) -> dict[str, Any]:
    """The position a cursor of `listing` names; 422 `invalid_input` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad("the cursor is not one this API wrote") from exc
    if not isinstance(data, dict) or data.get("v") != 1:
        raise _bad("the cursor is not one this API wrote")
    if data.get("l") != listing:
        raise _bad(f"the cursor belongs to another listing, not {listing}")
    return data


def _bad(message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_input",
        f"Invalid input — cursor: {message}; send back the {NEXT_CURSOR_HEADER} of an earlier "
        "answer as is.",
        [{"loc": ["query", "cursor"], "msg": message, "type": "cursor"}],
    )


def announce_next(request: Request, response: Response, cursor: str | None) -> None:
    """Put the next page's cursor on the response (nothing on the last page)."""
    if cursor is None:
        return
    response.headers[NEXT_CURSOR_HEADER] = cursor
    url = request.url.include_query_params(cursor=cursor)
    response.headers["Link"] = f'<{url}>; rel="next"'


def field(data: dict[str, Any], name: str, kind: type) -> Any:
    """One field of a decoded cursor, of the type its listing wrote; 422 otherwise."""
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise _bad("the cursor is not one this API wrote")
    return value


def offset_of(listing: str, cursor: str | None) -> int:
    """Where a ranked listing's page starts (0 without a cursor)."""
    if cursor is None:
        return 0
    value: int = field(decode(listing, cursor), "offset", int)
    if value < 0:
        raise _bad("the cursor is not one this API wrote")
    return value


def instant(data: dict[str, Any], name: str) -> datetime:
    """An aware instant a cursor carries (ISO 8601); 422 otherwise."""
    try:
        value = datetime.fromisoformat(field(data, name, str))
    except ValueError as exc:
        raise _bad("the cursor is not one this API wrote") from exc
    if value.tzinfo is None:
        raise _bad("the cursor is not one this API wrote")
    return value
