"""Single sign-on with OpenID Connect (issue 15), against a fake issuer served in-process
(tests/desk/fake_issuer.py): the authorization code flow with PKCE, state and nonce; the ID
token verified with the issuer's JWKS; the person must be a desk user, whose role comes from the
store. A forged token, a wrong audience, a state from elsewhere or an unknown person signs nobody
in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from api.app import create_app
from core.serving import listening_socket, serve_in_background, url_of
from core.settings import Settings
from tests.desk.conftest import desk_clock
from tests.desk.fake_issuer import CLIENT_ID, CLIENT_SECRET, FakeIssuer


@pytest.fixture
async def issuer() -> AsyncIterator[FakeIssuer]:
    sock = listening_socket()
    fake = FakeIssuer(url=url_of(sock))
    async with serve_in_background(fake.app(), sock):
        yield fake


@pytest.fixture
def desk_app(settings: Settings, issuer: FakeIssuer) -> FastAPI:
    """The desk with single sign-on configured against the fake issuer."""
    sso = settings.model_copy(
        update={
            "oidc_issuer": issuer.url,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
        }
    )
    return create_app(sso, clock=desk_clock)


async def _sign_in_at_issuer(
    desk: httpx.AsyncClient, login: str, next_page: str = "/desk/queue"
) -> httpx.Response:
    """Follow the flow as a browser would: the desk → the issuer (who signs `login` in) → the
    desk's callback. Answers the callback's response."""
    start = await desk.get("/desk/oidc/start", params={"next": next_page})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    async with httpx.AsyncClient() as browser:
        at_issuer = await browser.get(f"{authorize}&login={login}")
    assert at_issuer.status_code == 302, at_issuer.text
    back = urlsplit(at_issuer.headers["location"])
    assert back.path == "/desk/oidc/callback"
    return await desk.get(f"{back.path}?{back.query}")


async def test_the_sign_in_page_offers_single_sign_on_and_a_desk_user_signs_in_through_it(
    desk: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    page = await desk.get("/desk/sign-in")
    assert 'id="sso"' in page.text
    start = await desk.get("/desk/oidc/start", params={"next": "/desk/search"})
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [CLIENT_ID]
    assert "nonce" in query and "state" in query

    done = await _sign_in_at_issuer(desk, "alice", "/desk/search")

    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/desk/search"
    queue = await desk.get("/desk/queue")
    assert queue.status_code == 200 and "alice (collector)" in queue.text
    assert issuer.token_requests == 1


async def test_a_person_who_is_not_a_desk_user_is_not_signed_in(
    desk: httpx.AsyncClient,
) -> None:
    done = await _sign_in_at_issuer(desk, "mallory")
    assert done.headers["location"].startswith("/desk/sign-in?sso_error=")
    page = await desk.get(done.headers["location"])
    assert "mallory is not a desk user" in page.text
    assert (await desk.get("/desk/queue")).status_code == 303  # still signed out


async def test_a_token_signed_by_another_key_or_for_another_client_signs_nobody_in(
    desk: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    issuer.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged = await _sign_in_at_issuer(desk, "alice")
    assert "could%20not%20be%20verified" in forged.headers["location"]
    issuer.signing_key, issuer.audience = None, "another-client"
    elsewhere = await _sign_in_at_issuer(desk, "alice")
    assert "could%20not%20be%20verified" in elsewhere.headers["location"]
    assert (await desk.get("/desk/queue")).status_code == 303


async def test_an_answer_whose_state_did_not_start_here_is_refused(
    desk: httpx.AsyncClient,
) -> None:
    await desk.get("/desk/oidc/start")
    refused = await desk.get("/desk/oidc/callback", params={"code": "x", "state": "planted"})
    assert refused.status_code == 303
    assert "state" in refused.headers["location"]
    assert (await desk.get("/desk/queue")).status_code == 303
