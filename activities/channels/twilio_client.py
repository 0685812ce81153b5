"""The Twilio REST client, pointed at real Twilio or at our sandbox gateway.

With TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM set, this is Twilio. Without them it
is the same `twilio.rest.Client` whose HTTP client rewrites `https://api.twilio.com` to
ARREARS_SANDBOX_URL: requests are built, authenticated, serialised and their answers and errors
parsed by the SDK exactly as in production, so what the sandbox tests prove holds for Twilio.

Two settings matter for exactly-once delivery and are fixed here rather than left to defaults:
the HTTP client never retries on its own (a transparent retry of a POST can text the borrower
twice, behind the ledger's back), and every request has a timeout, shorter than any activity's
start-to-close timeout, so an attempt ends before Temporal starts the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from core.settings import Settings

__all__ = [
    "HTTP_TIMEOUT_SECONDS",
    "TWILIO_API",
    "SandboxHttpClient",
    "TwilioConfigError",
    "TwilioConnection",
    "connect_twilio",
    "status_callback_url",
]

TWILIO_API = "https://api.twilio.com"
HTTP_TIMEOUT_SECONDS = 10.0
STATUS_CALLBACK_PATH = "/v1/webhooks/twilio/status"

log = logging.getLogger(__name__)


class TwilioConfigError(ValueError):
    """TWILIO_* are set only in part: refuse rather than silently use the sandbox."""


class SandboxHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending what it would send to api.twilio.com to the sandbox."""

    def __init__(self, sandbox_url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.sandbox_url = sandbox_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API):
            url = self.sandbox_url + url[len(TWILIO_API) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


@dataclass(frozen=True)
class TwilioConnection:
    """A client and what every send needs with it."""

    client: Client
    account_sid: str
    from_number: str
    sandbox: bool
    status_callback: str


def status_callback_url(settings: Settings) -> str:
    """Where Twilio posts delivery statuses: our API's public address (ARREARS_PUBLIC_URL)."""
    return settings.public_url.rstrip("/") + STATUS_CALLBACK_PATH


def connect_twilio(settings: Settings, timeout: float = HTTP_TIMEOUT_SECONDS) -> TwilioConnection:
    """Real Twilio when all of TWILIO_* are set, else the sandbox gateway (CONTRACT.md)."""
    given = [settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from]
    given = [value.get_secret_value() if isinstance(value, SecretStr) else value for value in given]
    if any(given) and not all(given):
        raise TwilioConfigError(
            "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must be set together "
            "(or none of them, to use the sandbox gateway)"
        )
    account_sid, token, from_number = settings.twilio_account
    if settings.uses_twilio:
        http_client: TwilioHttpClient = TwilioHttpClient(timeout=timeout)
    else:
        http_client = SandboxHttpClient(settings.sandbox_url, timeout=timeout)
    client = Client(account_sid, token, http_client=http_client)
    return TwilioConnection(
        client=client,
        account_sid=account_sid,
        from_number=from_number,
        sandbox=not settings.uses_twilio,
        status_callback=status_callback_url(settings),
    )
