"""The desk's session: a signed cookie (itsdangerous, HMAC-SHA1 over a timestamped payload) that
holds who signed in and the session's CSRF token; nothing else, and nothing secret.

The cookie is HttpOnly (no script reads it), SameSite=Lax (another site's form cannot post with
it) and Secure over HTTPS, scoped to `/desk`. The signing keys are derived from the payload keys
(ARREARS_PAYLOAD_KEY), as the codec's session cookie's are: every API replica has them, a key
rotation keeps sessions valid, and the cookie's key decrypts nothing. Every form carries the CSRF
token (a hidden field, or the `X-CSRF-Token` header htmx sends); a post without the session's
token is refused with 403 before anything is read from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.codec import parse_keys
from core.settings import Settings

COOKIE = "arrears_desk"
COOKIE_PATH = "/desk"
MAX_AGE = 8 * 3600
"""A working day: after it the person signs in again."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class DeskSession:
    csrf: str
    user: str | None = None


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    keys = [
        hashlib.sha256(b"arrears-desk-session\0" + key.secret).digest()
        for key in parse_keys(settings.payload_key_spec)
    ]
    # itsdangerous signs with the last key and verifies with all: the encrypting key signs.
    return URLSafeTimedSerializer(list(reversed(keys)), salt="arrears-desk")


def read_session(request: Request) -> DeskSession | None:
    """The request's session if its cookie is signed by us and younger than MAX_AGE."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        data = _serializer(request.app.state.settings).loads(cookie, max_age=MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    user = data.get("u")
    return DeskSession(csrf=data["c"], user=user if isinstance(user, str) else None)


def new_session(user: str | None = None) -> DeskSession:
    """A fresh session (and CSRF token): at sign-in the anonymous one is replaced, so a token
    planted before sign-in is worth nothing after it."""
    return DeskSession(csrf=secrets.token_urlsafe(24), user=user)


def write_session(request: Request, response: Response, session: DeskSession) -> None:
    token = _serializer(request.app.state.settings).dumps({"u": session.user, "c": session.csrf})
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH)


def csrf_valid(session: DeskSession | None, sent: str | None) -> bool:
    return bool(session and sent and hmac.compare_digest(session.csrf, sent))
