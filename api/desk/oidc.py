"""Single sign-on for the desk with OpenID Connect (issue 15), when `ARREARS_OIDC_ISSUER`,
`ARREARS_OIDC_CLIENT_ID` and `ARREARS_OIDC_CLIENT_SECRET` are set: the authorization code flow
with PKCE (S256), a `state` and a `nonce`, through Authlib's OAuth 2 client; the ID token is
verified with joserfc (the JOSE library Authlib itself now uses, its `authlib.jose` deprecated).

- `/desk/oidc/start?next=...` reads the issuer's discovery document, keeps state, nonce, the PKCE
  verifier and where to go afterwards in a short-lived signed HttpOnly cookie (nothing kept in
  the server), and sends the browser to the issuer's authorization endpoint.
- `/desk/oidc/callback` checks the state against that cookie, exchanges the code at the token
  endpoint (the client secret, the verifier), and verifies the ID token: signature with the
  issuer's JWKS, `iss`, `aud`, `nonce`, expiry. The person is the token's `preferred_username`
  (else `email`, else `sub`) and must be a desk user (`arrears users add NAME --role ROLE`): the
  role still comes from the store, so the identity provider proves who someone is and the desk
  decides what they may do. Then the usual desk session starts (a fresh CSRF token).

Any failure ends on the sign-in page with a sentence, never in a half-signed-in state.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.desk.session import COOKIE_PATH, new_session, write_session
from api.desk.users import load_user
from api.desk.views import _safe_next, sso_configured
from api.state import database_url
from core.codec import parse_keys
from core.settings import Settings

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

router = APIRouter(prefix="/desk/oidc", include_in_schema=False)

FLOW_COOKIE = "arrears_desk_oidc"
FLOW_MAX_AGE = 600
"""Ten minutes to sign in at the issuer and come back."""
TIMEOUT = httpx.Timeout(10.0)


def _flow_serializer(settings: Settings) -> URLSafeTimedSerializer:
    keys = [
        hashlib.sha256(b"arrears-desk-oidc\0" + key.secret).digest()
        for key in parse_keys(settings.payload_key_spec)
    ]
    return URLSafeTimedSerializer(list(reversed(keys)), salt="arrears-desk-oidc")


async def _discovery(settings: Settings) -> dict[str, Any]:
    issuer = str(settings.oidc_issuer).rstrip("/")
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        answer = await http.get(f"{issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ValueError("the discovery document names another issuer")
    return document


def _client(settings: Settings, redirect_uri: str) -> AsyncOAuth2Client:
    # Imported only when single sign-on is used: Authlib's httpx integration warns at import
    # (its own deprecation notice), which would otherwise be the first line every `arrears`
    # process prints, before a one-line refusal people and scripts read.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    secret = settings.oidc_client_secret
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scope="openid profile email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT,
    )


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


def _failed(reason: str) -> RedirectResponse:
    response = RedirectResponse(f"/desk/sign-in?sso_error={quote(reason)}", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/start")
async def oidc_start(request: Request, next: str | None = None) -> Response:
    settings: Settings = request.app.state.settings
    if not sso_configured(settings):
        return _failed("single sign-on is not configured")
    try:
        document = await _discovery(settings)
    except (httpx.HTTPError, ValueError) as exc:
        return _failed(f"the identity provider did not answer ({type(exc).__name__})")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    async with _client(settings, _callback_url(request)) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    flow = {"s": state, "n": nonce, "v": verifier, "next": _safe_next(next)}
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _flow_serializer(settings).dumps(flow),
        max_age=FLOW_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the issuer's redirect back is a top-level GET: Lax sends it
        secure=request.url.scheme == "https",
    )
    return response


def _person(claims: dict[str, Any]) -> str | None:
    for name in ("preferred_username", "email", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


@router.get("/callback", name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not sso_configured(settings):
        return _failed("single sign-on is not configured")
    try:
        flow = _flow_serializer(settings).loads(
            request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_MAX_AGE
        )
    except BadSignature:
        return _failed("the sign-in took too long or did not start here; try again")
    query = request.query_params
    if query.get("error"):
        return _failed(f"the identity provider refused: {query.get('error')}")
    if not secrets.compare_digest(str(query.get("state", "")), str(flow.get("s", ""))):
        return _failed("the answer does not belong to this sign-in (state)")
    try:
        document = await _discovery(settings)
        async with _client(settings, _callback_url(request)) as client:
            token = await client.fetch_token(
                document["token_endpoint"],
                code=query.get("code", ""),
                code_verifier=flow["v"],
            )
            jwks = (await client.get(document["jwks_uri"])).json()
        verified = jwt.decode(
            token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256", "ES256"]
        )
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": document["issuer"]},
            aud={"essential": True, "value": str(settings.oidc_client_id)},
            nonce={"essential": True, "value": flow["n"]},
            exp={"essential": True},
        ).validate(verified.claims)
        claims = verified.claims
    except (httpx.HTTPError, KeyError, ValueError, JoseError) as exc:
        return _failed(f"the sign-in could not be verified ({type(exc).__name__})")
    person = _person(dict(claims))
    user = await asyncio.to_thread(load_user, database_url(request), person) if person else None
    if user is None:
        return _failed(f"{person or 'this identity'} is not a desk user (arrears users add)")
    response = RedirectResponse(str(flow.get("next") or "/desk/queue"), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
    write_session(request, response, new_session(user.username))
    return response
