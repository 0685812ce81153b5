"""Who may call what (issue 7, "Roles"): every route of the app × every role, against the table
below. The routes are read from the app itself, so an endpoint added without a row here fails
`test_every_route_has_a_row_in_the_role_matrix` until someone decides who may call it.

"Allowed" means the auth decision let the call through (anything but 401/403); the bodies are
empty or name unknown loans and tasks, so an allowed call answers 200, 404 or 422 and nothing
reaches a workflow. Twilio's webhooks and /health are outside key auth, asserted explicitly.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from twilio.request_validator import RequestValidator

from api.app import create_app
from api.auth import KeyRing, Role
from core.settings import Settings
from tests.conftest import ANTI_FRAUD, AUDITOR, COLLECTOR, LEGAL, LOAN_SYSTEM, SUPERVISOR

L, C, S, A = Role.LOAN_SYSTEM, Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR
F = Role.ANTI_FRAUD  # verifies deaths, bankruptcies and charge-off files (issue 17 item 2)
G = Role.LEGAL  # approves lawsuit filings, reports the court's news (issue 17 item 4)
ANY = frozenset({L, C, S, A, F, G})
OPEN = "open"  # no key needed (documentation, /health, the CORS preflight)
TWILIO = "twilio"  # no key: the X-Twilio-Signature authenticates
DESK = "desk"  # no key: the desk's signed session cookie and CSRF token (tests/desk)

MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("GET", "/health"): OPEN,
    ("GET", "/health/live"): OPEN,
    ("GET", "/health/ready"): OPEN,
    ("GET", "/metrics"): OPEN,  # Prometheus scrapes without a key (CONTRACT.md v1.1)
    ("OPTIONS", "/codec/{operation}"): OPEN,
    ("GET", "/codec/session"): OPEN,  # the codec sign-in form (docs/audit.md)
    # the loan system: starts accounts, posts payments and instalments
    ("POST", "/v1/accounts:batch"): frozenset({L}),
    ("POST", "/v1/accounts"): frozenset({L}),
    ("POST", "/v1/accounts/{loan_id}/payments"): frozenset({L}),
    ("POST", "/v1/accounts/{loan_id}/instalments"): frozenset({L}),
    # the loan system reads the event log (CONTRACT.md v1.1; docs/events.md)
    ("GET", "/v1/events"): frozenset({L}),
    # everyone reads an account's status and actions (CONTRACT.md: "any")
    ("GET", "/v1/accounts/{loan_id}"): ANY,
    # staff find accounts (CONTRACT.md v1.1); a collector only theirs and unheld ones
    ("GET", "/v1/accounts"): frozenset({C, S, A}),
    ("GET", "/v1/borrowers/{borrower_id}"): frozenset({C, S, A}),
    ("GET", "/v1/borrowers/{borrower_id}/timeline"): frozenset({C, S, A}),
    ("GET", "/v1/accounts/{loan_id}/actions"): ANY,
    # collectors act on accounts; a supervisor may do everything a collector may
    ("POST", "/v1/accounts/{loan_id}/promises"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/disputes"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/complaints"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/bankruptcy"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/deceased"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/cease-communication"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/attorney"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/holds/{kind}/release"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/contact-info"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/hardship"): frozenset({C, S}),
    ("POST", "/v1/accounts/{loan_id}/restructure"): frozenset({C, S}),
    ("GET", "/v1/tasks"): frozenset({C, S, F, G}),
    ("POST", "/v1/tasks:claim-next"): frozenset({C, S, F, G}),
    ("POST", "/v1/tasks/{task_id}/claim"): frozenset({C, S, F, G}),
    ("POST", "/v1/tasks/{task_id}/outcome"): frozenset({C, S, F, G}),
    ("GET", "/v1/accounts/{loan_id}/placements"): frozenset({C, S, A}),
    ("GET", "/v1/accounts/{loan_id}/legal-cases"): frozenset({C, S, A, G}),
    ("GET", "/v1/accounts/{loan_id}/messages"): frozenset({C, S, A}),
    # notes (issue 15): staff who work an account write them; auditors read them
    ("POST", "/v1/accounts/{loan_id}/notes"): frozenset({C, S}),
    ("GET", "/v1/accounts/{loan_id}/notes"): frozenset({C, S, A}),
    ("GET", "/v1/accounts/{loan_id}/compliance"): frozenset({C, S, A}),
    ("GET", "/v1/accounts/{loan_id}/letters"): frozenset({C, S, A}),
    ("GET", "/v1/accounts/{loan_id}/letters/{letter_id}.pdf"): frozenset({C, S, A}),
    # auditors read timelines (supervisors too) and histories (auditors only: CONTRACT.md)
    ("GET", "/v1/accounts/{loan_id}/timeline"): frozenset({A, S, C}),
    ("GET", "/v1/accounts/{loan_id}/history"): frozenset({A}),
    ("POST", "/codec/session"): frozenset({A}),
    ("POST", "/codec/decode"): frozenset({A}),
    ("POST", "/codec/encode"): frozenset({A}),
    # the supervisor's own
    ("GET", "/v1/agencies"): frozenset({S, A}),
    ("POST", "/v1/agencies"): frozenset({S}),
    ("GET", "/v1/sandbox/messages"): frozenset({S}),
    ("GET", "/v1/sandbox/clock"): frozenset({S}),
    ("POST", "/v1/sandbox/clock/advance"): frozenset({S}),
    ("POST", "/v1/accounts/{loan_id}/agency-recall"): frozenset({S}),
    # an agency's daily contact file, relayed by the bank's systems (or a supervisor)
    ("POST", "/v1/accounts/{loan_id}/agency-contacts"): frozenset({L, S}),
    ("POST", "/v1/legal-cases/{case_id}/status"): frozenset({S, G}),
    # escalation (section 5): supervisors reassign, a collector hands on an account they hold
    ("POST", "/v1/accounts/{loan_id}/reassign"): frozenset({S}),
    ("POST", "/v1/accounts/{loan_id}/escalate"): frozenset({C, S}),
    ("POST", "/v1/tasks/{task_id}/assign"): frozenset({S}),
    # the scoreboard
    ("GET", "/v1/reports/roll-rates"): frozenset({S, A}),
    ("GET", "/v1/reports/cure-rates"): frozenset({S, A}),
    ("GET", "/v1/reports/operations"): frozenset({S, A}),
    # dispute and complaint cases (issue 17 item 7): supervisors work them, auditors read them
    ("GET", "/v1/cases"): frozenset({S, A}),
    ("GET", "/v1/cases/{case_id}"): frozenset({S, A}),
    ("POST", "/v1/cases/{case_id}/evidence"): frozenset({S}),
    ("POST", "/v1/cases/{case_id}/resolution"): frozenset({S}),
    # Twilio
    ("POST", "/v1/webhooks/twilio/status"): TWILIO,
    ("POST", "/v1/webhooks/twilio/inbound"): TWILIO,
    # the desk (issue 15): staff sign in with a password; the pages call the routes above
    ("GET", "/desk/"): DESK,
    ("GET", "/desk/sign-in"): DESK,
    ("POST", "/desk/sign-in"): DESK,
    ("POST", "/desk/sign-out"): DESK,
    ("POST", "/desk/language"): DESK,
    ("GET", "/desk/queue"): DESK,
    ("POST", "/desk/queue/claim-next"): DESK,
    ("GET", "/desk/tasks/{task_id}"): DESK,
    ("POST", "/desk/tasks/{task_id}/outcome"): DESK,
    ("GET", "/desk/accounts/{loan_id}"): DESK,
    ("POST", "/desk/clock/advance"): DESK,
    ("GET", "/desk/accounts/{loan_id}/letters/{letter_id}.pdf"): DESK,
    ("GET", "/desk/team"): DESK,
    ("GET", "/desk/dashboard"): DESK,
    ("GET", "/desk/search"): DESK,
    ("GET", "/desk/audit/{loan_id}"): DESK,
    ("GET", "/desk/audit/{loan_id}/history.json"): DESK,
    ("POST", "/desk/audit/{loan_id}/replay"): DESK,
    ("GET", "/desk/oidc/start"): DESK,
    ("GET", "/desk/oidc/callback"): DESK,
    ("POST", "/desk/team/assign-task"): DESK,
    ("POST", "/desk/team/reassign-account"): DESK,
    ("POST", "/desk/accounts/{loan_id}/notes"): DESK,
    ("POST", "/desk/accounts/{loan_id}/actions/{name}"): DESK,
    ("POST", "/desk/accounts/{loan_id}/holds/{kind}/release"): DESK,
    ("GET", "/desk/borrowers/{borrower_id}"): DESK,
    # disputes and complaints (issue 17 item 7): supervisors work them, auditors read them
    ("GET", "/desk/cases"): DESK,
    ("GET", "/desk/cases/{case_id}"): DESK,
    ("POST", "/desk/cases/{case_id}/evidence"): DESK,
    ("POST", "/desk/cases/{case_id}/resolution"): DESK,
}

READS_THAT_ARE_POSTS = {
    ("POST", "/codec/decode"),
    ("POST", "/codec/encode"),
    ("POST", "/codec/session"),
}
"""The codec endpoints take their input as a body but change nothing: an auditor's reads (a
codec session only lets the auditor's browser read payloads)."""

HEADERS = {L: LOAN_SYSTEM, C: COLLECTOR, S: SUPERVISOR, A: AUDITOR, F: ANTI_FRAUD, G: LEGAL}
PATH_VALUES = {
    "{loan_id}": "L-NOBODY",
    "{task_id}": "T-NOBODY",
    "{kind}": "dispute",
    "{operation}": "decode",
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD" and route.path:
                routes.add((method, route.path))
    return routes


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace(name, value)
    return path


async def call(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    url = concrete(path)
    if method == "POST":
        body: object = [] if path.endswith(":batch") else {}
        return await api.post(url, json=body, headers=headers)
    return await api.request(method, url, headers=headers)


def test_every_route_has_a_row_in_the_role_matrix(settings: Settings) -> None:
    routes = app_routes(create_app(settings))
    missing = sorted(routes - MATRIX.keys())
    assert not missing, (
        f"routes without a row in the role matrix (decide who calls them): {missing}"
    )
    stale = sorted(MATRIX.keys() - routes)
    assert not stale, f"matrix rows for routes the app no longer has: {stale}"


def test_the_matrix_keeps_the_roles_promises() -> None:
    keyed = {k: v for k, v in MATRIX.items() if isinstance(v, frozenset)}
    for route, roles in keyed.items():
        if C in roles:
            assert S in roles, f"{route}: a supervisor may do everything a collector may"
        if A in roles:
            assert route[0] == "GET" or route in READS_THAT_ARE_POSTS, (
                f"{route}: an auditor reads and changes nothing"
            )
    loan_system = {route for route, roles in keyed.items() if L in roles}
    assert {route for route in loan_system if route[0] != "GET"} == {
        ("POST", "/v1/accounts:batch"),
        ("POST", "/v1/accounts"),
        ("POST", "/v1/accounts/{loan_id}/payments"),
        ("POST", "/v1/accounts/{loan_id}/instalments"),
        ("POST", "/v1/accounts/{loan_id}/agency-contacts"),  # agencies' contact files
    }


KEYED = sorted(route for route, roles in MATRIX.items() if isinstance(roles, frozenset))


@pytest.mark.parametrize("route", KEYED, ids=[f"{m} {p}" for m, p in KEYED])
async def test_each_role_is_allowed_or_refused_as_the_matrix_says(
    api: httpx.AsyncClient, route: tuple[str, str]
) -> None:
    method, path = route
    allowed = MATRIX[route]
    assert isinstance(allowed, frozenset)
    anonymous = await call(api, method, path, {})
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    unknown = await call(api, method, path, {"Authorization": "Bearer not-a-key"})
    assert unknown.status_code == 401, unknown.text
    for role, headers in HEADERS.items():
        response = await call(api, method, path, headers)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            error = response.json()["error"]
            assert error["code"] == "forbidden" and role.value in error["message"]


async def test_open_routes_need_no_key(api: httpx.AsyncClient) -> None:
    for method, path in sorted(r for r, v in MATRIX.items() if v == OPEN):
        response = await call(api, method, path, {})
        assert response.status_code in (200, 204), (method, path, response.status_code)


async def test_webhooks_are_authenticated_by_twilio_signature_not_by_api_key(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    form = {"MessageSid": "SM-matrix", "From": "+8613900000001", "To": "+10000000000", "Body": "hi"}
    for path in ("/v1/webhooks/twilio/status", "/v1/webhooks/twilio/inbound"):
        for headers in ({}, SUPERVISOR, LOAN_SYSTEM):
            # No signature: 403 whatever API key is sent — a key grants nothing here.
            response = await api.post(path, data=form, headers=headers)
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "invalid_signature"
    _sid, token, _from = settings.twilio_account
    url = settings.public_url.rstrip("/") + "/v1/webhooks/twilio/inbound"
    signature = RequestValidator(token).compute_signature(url, form)
    signed = await api.post(
        "/v1/webhooks/twilio/inbound",
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert signed.status_code == 200, signed.text  # no Authorization header at all


def test_keys_may_be_configured_as_sha256_digests() -> None:
    digest = hashlib.sha256(b"s3cret-collector").hexdigest()
    ring = KeyRing(f"sha256={digest}:collector:carol,plain-key:auditor")
    carol = ring.identify("s3cret-collector")
    assert carol is not None and carol.role == Role.COLLECTOR and carol.user == "carol"
    assert ring.identify(f"sha256={digest}") is None  # the digest itself is not a key
    assert ring.identify(digest) is None
    auditor = ring.identify("plain-key")
    assert auditor is not None and auditor.role == Role.AUDITOR
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        KeyRing("sha256=abc:collector")
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        KeyRing(f"sha256={'z' * 64}:collector")


async def test_a_hashed_key_authenticates_through_the_api(database_url: str) -> None:
    digest = hashlib.sha256(b"los-key").hexdigest()
    settings = Settings(DATABASE_URL=database_url, ARREARS_API_KEYS=f"sha256={digest}:loan-system")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        path = "/v1/accounts/L-NOBODY/actions"
        with_key = await client.get(path, headers={"Authorization": "Bearer los-key"})
        with_digest = await client.get(path, headers={"Authorization": f"Bearer sha256={digest}"})
    assert with_key.status_code == 404  # authenticated; the loan is unknown
    assert with_digest.status_code == 401
