"""The codec endpoint (issue 8) through which the Temporal Web UI and CLI show decrypted payloads.

It speaks Temporal's remote codec protocol: `POST /codec/decode` (and `/encode`)
with `{"payloads": [{"metadata": {...base64...}, "data": "..."}]}`, answering the same shape.
It is open to the auditor role only. Two ways to authenticate (docs/audit.md):

- `Authorization: Bearer <auditor API key>`: the `temporal` CLI (`--codec-auth`) and scripts;
- the `arrears_codec` session cookie, for the Web UI, which cannot send our API key: the
  auditor signs in once at `/codec/session` (a form, or `POST` with the Bearer key) and the UI,
  configured to "include cross-origin credentials", sends the cookie with every codec call.

Because a cookie is sent by the browser on its own, CORS is an allow-list (ARREARS_UI_ORIGINS),
never an echo of any origin; a call from an origin outside it is refused. Every answer to an
allowed origin, refusals (401/403/422/409) included, carries the CORS headers, so the UI can show
why it was refused instead of an opaque network error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from api.auth import Principal, Role, identify_key
from api.errors import ApiError, error_body
from core.codec import EncryptionCodec, PayloadKeyError, parse_keys
from core.settings import Settings

# Tagged with the audit endpoints: one section of the API documentation for auditors.
router = APIRouter(tags=["audit"])

CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}
SESSION_COOKIE = "arrears_codec"
SESSION_SECONDS = 8 * 3600
"""An auditor's codec session lasts a working day; signing in again is one form."""


def _codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec.from_spec(settings.payload_key_spec, for_audit=True)


def allowed_origins(settings: Settings) -> frozenset[str]:
    """ARREARS_UI_ORIGINS as a set of exact origins (scheme://host[:port], no trailing slash)."""
    return frozenset(o.strip().rstrip("/") for o in settings.ui_origins.split(",") if o.strip())


def _cors_headers(request: Request) -> dict[str, str]:
    """The CORS headers for an allowed origin; none for a foreign one (the browser then keeps
    the answer from the page) or for a call without an Origin (CLI, scripts)."""
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") in allowed_origins(request.app.state.settings):
        return {"Access-Control-Allow-Origin": origin, **CORS_HEADERS}
    return {"Vary": "Origin"} if origin else {}


def _refusal(request: Request, status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        error_body(code, message), status_code=status, headers=_cors_headers(request)
    )


def _foreign_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return bool(origin) and str(origin).rstrip("/") not in allowed_origins(
        request.app.state.settings
    )


# ------------------------------------------------------------------------------ codec sessions


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _session_origin_allowed(request: Request) -> bool:
    """A sign-in from the Web UI's origins, from this API's own sign-in form (its public URL,
    or the origin the request came to), or without an Origin at all (the CLI, scripts: not a
    browser, so no cross-site forgery)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    settings: Settings = request.app.state.settings
    own = {_origin_of(settings.public_url), _origin_of(str(request.base_url))}
    return origin in {o.lower() for o in allowed_origins(settings)} | own


def _session_keys(settings: Settings) -> list[bytes]:
    """Signing keys for session cookies, derived from the payload keys: every API replica holds
    them already, the first signs and all verify (a payload key rotation keeps sessions), and a
    session cookie can decrypt nothing by itself."""
    return [
        hashlib.sha256(b"arrears-codec-session\0" + key.secret).digest()
        for key in parse_keys(settings.payload_key_spec)
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_token(settings: Settings, user: str, expires: int) -> str:
    """`<base64 claims>.<base64 HMAC-SHA256>`: the auditor's name and the expiry (Unix time)."""
    claims = _b64(json.dumps({"user": user, "role": "auditor", "exp": expires}).encode())
    signature = hmac.new(_session_keys(settings)[0], claims.encode(), hashlib.sha256).digest()
    return f"{claims}.{_b64(signature)}"


def session_principal(settings: Settings, token: str, now: float) -> Principal | None:
    """The auditor a session cookie names, if its signature holds and it has not expired."""
    claims, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        payload = json.loads(_unb64(claims))
    except (binascii.Error, ValueError):
        return None
    signed = [
        hmac.new(key, claims.encode(), hashlib.sha256).digest() for key in _session_keys(settings)
    ]
    if not any(hmac.compare_digest(given, s) for s in signed):
        return None
    if not isinstance(payload, dict) or payload.get("role") != "auditor":
        return None
    if not isinstance(payload.get("exp"), int) or payload["exp"] <= now:
        return None
    return Principal(Role.AUDITOR, str(payload.get("user") or "auditor"))


def _bearer_principal(request: Request, key: str | None = None) -> Principal | None | str:
    """The principal of the Bearer key (or of `key`); None without one; a message when the key
    is unknown."""
    if key is None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
    return identify_key(request, key) or "The API key is not known."


def _throttled(request: Request, exc: ApiError) -> JSONResponse:
    """The attempt limit's 429 (api/auth.py FailedAttempts), with the CORS headers."""
    answer = _refusal(request, exc.status, exc.code, exc.message)
    answer.headers.update(exc.headers or {})
    return answer


def _codec_caller(request: Request) -> Principal | JSONResponse:
    """Who calls a codec endpoint: a Bearer key or the session cookie, auditors only. Refusals
    are answered here (not raised) so they carry the CORS headers."""
    if _foreign_origin(request):
        return _refusal(
            request,
            403,
            "forbidden",
            f"The origin {request.headers.get('origin')} is not in ARREARS_UI_ORIGINS.",
        )
    try:
        found = _bearer_principal(request)
    except ApiError as exc:
        return _throttled(request, exc)
    if found is None and (cookie := request.cookies.get(SESSION_COOKIE)):
        found = session_principal(request.app.state.settings, cookie, time.time()) or (
            "The codec session has expired or is not valid: sign in again at /codec/session."
        )
    if found is None:
        return _refusal(
            request,
            401,
            "unauthenticated",
            "Send an auditor API key as 'Authorization: Bearer <key>', or sign in at "
            "/codec/session for the codec session cookie.",
        )
    if isinstance(found, str):
        return _refusal(request, 401, "unauthenticated", found)
    if found.role != Role.AUDITOR:
        return _refusal(
            request,
            403,
            "forbidden",
            f"Role {found.role.value!r} may not do this (needs: {Role.AUDITOR.value}).",
        )
    return found


SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>arrears codec sign-in</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Decrypt payloads in the Temporal Web UI</h1>
<p>Sign in with your <b>auditor</b> API key. This browser then holds a codec session cookie for
{hours} hours; the Web UI sends it to <code>/codec/decode</code> when its codec server setting
"include cross-origin credentials" is on (docs/audit.md).</p>
<form method="post" action="session">
<label>Auditor API key <input type="password" name="api_key" autocomplete="off" required></label>
<button type="submit">Sign in</button>
</form>
</body></html>
"""


@router.get("/codec/session", include_in_schema=False)
async def codec_sign_in_page() -> HTMLResponse:
    """The sign-in form (nothing secret): the browser must receive the cookie itself."""
    return HTMLResponse(SIGN_IN_PAGE.format(hours=SESSION_SECONDS // 3600))


@router.post(
    "/codec/session",
    summary="Start a codec session for the Temporal Web UI (auditors)",
    description="Authenticate with the auditor's API key (`Authorization: Bearer`, or the form "
    "field `api_key` of the page at `GET /codec/session`) and receive the `arrears_codec` "
    "cookie (HttpOnly; Secure and SameSite=None over HTTPS, else SameSite=Lax) that "
    "`/codec/decode` and `/codec/encode` accept in place of the key, for 8 hours. Answer: "
    "`{user, expires_at}`.",
    responses={200: {"content": {"application/json": {"example": {"user": "dave"}}}}},
)
async def codec_session(request: Request) -> JSONResponse:
    if not _session_origin_allowed(request):
        # A page on another site must not sign a browser in (login CSRF), nor probe keys.
        return _refusal(
            request,
            403,
            "forbidden",
            f"The origin {request.headers.get('origin')} may not start a codec session: only "
            "the Web UI's origins (ARREARS_UI_ORIGINS) and this API's own pages may.",
        )
    try:
        found = _bearer_principal(request)
        if found is None:
            form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
            if form.get("api_key"):
                found = _bearer_principal(request, form["api_key"][0])
    except ApiError as exc:
        return _throttled(request, exc)
    if found is None:
        return _refusal(
            request, 401, "unauthenticated", "Send the auditor API key (Bearer or api_key)."
        )
    if isinstance(found, str):
        return _refusal(request, 401, "unauthenticated", found)
    if found.role != Role.AUDITOR:
        return _refusal(
            request,
            403,
            "forbidden",
            f"Role {found.role.value!r} may not do this (needs: {Role.AUDITOR.value}).",
        )
    expires = int(time.time()) + SESSION_SECONDS
    settings: Settings = request.app.state.settings
    answer = JSONResponse(
        {"user": found.user, "expires_at": expires}, headers=_cors_headers(request)
    )
    secure = request.url.scheme == "https" or settings.public_url.startswith("https://")
    answer.set_cookie(
        SESSION_COOKIE,
        session_token(settings, found.user, expires),
        max_age=SESSION_SECONDS,
        path="/codec",
        httponly=True,
        secure=secure,
        # Over HTTPS the UI may live on another site; over plain HTTP (a laptop) browsers only
        # accept SameSite=Lax, which the UI on the same host name (another port) still gets.
        samesite="none" if secure else "lax",
    )
    return answer


@router.options("/codec/{operation}", include_in_schema=False)
async def codec_preflight(operation: str, request: Request) -> Response:
    """The browser's CORS preflight: unauthenticated by the CORS rules, answers nothing secret.
    A foreign origin gets no CORS headers, so the browser never sends the real call."""
    if _foreign_origin(request):
        return _refusal(
            request,
            403,
            "forbidden",
            f"The origin {request.headers.get('origin')} is not in ARREARS_UI_ORIGINS.",
        )
    headers = _cors_headers(request) if operation in ("encode", "decode", "session") else {}
    return Response(status_code=204, headers=headers)


CODEC_BODY = {
    "requestBody": {
        "required": True,
        "description": "Temporal's remote codec body: payloads with base64 metadata and data.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                    "data": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "example": {
                    "payloads": [
                        {
                            "metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="},
                            "data": "q83vEjRWeJ...",
                        }
                    ]
                },
            }
        },
    }
}


async def _run_codec(request: Request, encode: bool) -> Response:
    caller = _codec_caller(request)
    if isinstance(caller, JSONResponse):
        return caller
    try:
        payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError):
        return _refusal(
            request,
            422,
            "invalid_input",
            'Send {"payloads": [{"metadata": {...}, "data": ...}]}.',
        )
    codec = _codec(request.app.state.settings)
    try:
        done = await (codec.encode if encode else codec.decode)(payloads.payloads)
    except PayloadKeyError as exc:
        return _refusal(request, 409, "payload_key_missing", str(exc))
    return JSONResponse(
        json_format.MessageToDict(Payloads(payloads=done)), headers=_cors_headers(request)
    )


@router.post(
    "/codec/decode",
    summary="Temporal remote codec: decrypt payloads (auditors)",
    description="For the Web UI's and `temporal --codec-endpoint` payload decoding. "
    "Authenticated by the auditor's Bearer key or the codec session cookie (`/codec/session`).",
    openapi_extra=CODEC_BODY,
    response_model=None,
    responses={
        200: {
            "description": "The payloads, decoded.",
            "content": {
                "application/json": {
                    "example": {
                        "payloads": [
                            {
                                "metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                "data": "eyJsb2FuX2lkIjoiTC0xMDAxIn0=",
                            }
                        ]
                    }
                }
            },
        }
    },
)
async def codec_decode(request: Request) -> Response:
    return await _run_codec(request, encode=False)


@router.post(
    "/codec/encode",
    summary="Temporal remote codec: encrypt payloads (auditors)",
    description="The reverse of /codec/decode, for payloads typed into the Web UI.",
    openapi_extra=CODEC_BODY,
    response_model=None,
    responses={
        200: {
            "description": "The payloads, encoded.",
            "content": {
                "application/json": {
                    "example": {
                        "payloads": [
                            {
                                "metadata": {
                                    "encoding": "YmluYXJ5L2VuY3J5cHRlZA==",
                                    "encryption-key-id": "ZGV2",
                                },
                                "data": "q83vEjRWeJ...",
                            }
                        ]
                    }
                }
            },
        }
    },
)
async def codec_encode(request: Request) -> Response:
    return await _run_codec(request, encode=True)
