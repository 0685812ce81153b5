"""Configuration from the environment (CONTRACT.md, "Processes and configuration").

Every process reads the same variables, so the embedded stack, the tests and production differ
only in their environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_API_KEYS = (
    "demo-loan-system:loan-system:loan-system,"
    "demo-collector:collector:alice,"
    "demo-collector-2:collector:bob,"
    "demo-supervisor:supervisor:carol,"
    "demo-auditor:auditor:dave,"
    "demo-anti-fraud:anti-fraud:erin,"
    "demo-legal:legal:frank"
)

# base64 of b"arrears-dev-payload-key-32bytes!": public, so the embedded stack and the tests work
# out of the box. It protects nothing; every real deployment sets ARREARS_PAYLOAD_KEY.
DEV_PAYLOAD_KEY = "YXJyZWFycy1kZXYtcGF5bG9hZC1rZXktMzJieXRlcyE="

# The sandbox gateway's account (arrears sandbox): public on purpose, like the demo API keys. The
# gateway is a local stand-in for Twilio; with TWILIO_* set, these are never used.
SANDBOX_ACCOUNT_SID = "AC" + "5a" * 16
SANDBOX_AUTH_TOKEN = "sandbox-auth-token-not-a-secret"
SANDBOX_FROM = "+15005550006"  # Twilio's "valid sender" test number

# The repository's policy directory: strategies, contact profiles and holiday calendars.
POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"


class Settings(BaseSettings):
    """The contract's environment variables; the defaults are the embedded stack."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    temporal_address: str = Field("localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", alias="TEMPORAL_NAMESPACE")
    # The `temporal` CLI's own environment and profile file (read through the SDK's envconfig,
    # core/temporal_target.py): Temporal Cloud or any TLS cluster is a configuration change. A
    # value set here (or in the environment) wins over the profile; the profile over defaults.
    temporal_profile: str | None = Field(None, alias="TEMPORAL_PROFILE")
    temporal_config_file: Path | None = Field(None, alias="TEMPORAL_CONFIG_FILE")
    temporal_api_key: SecretStr | None = Field(None, alias="TEMPORAL_API_KEY")
    temporal_tls: bool | None = Field(None, alias="TEMPORAL_TLS")
    temporal_tls_client_cert_path: Path | None = Field(None, alias="TEMPORAL_TLS_CLIENT_CERT_PATH")
    temporal_tls_client_key_path: Path | None = Field(None, alias="TEMPORAL_TLS_CLIENT_KEY_PATH")
    temporal_tls_server_ca_cert_path: Path | None = Field(
        None, alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    )
    temporal_tls_server_name: str | None = Field(None, alias="TEMPORAL_TLS_SERVER_NAME")
    task_queue: str = Field("collections", alias="ARREARS_TASK_QUEUE")
    database_url: str = Field("", alias="DATABASE_URL")
    # Secrets are SecretStr: a settings object printed, logged or put in an error shows
    # '**********'; the one place that needs the value calls get_secret_value().
    api_keys: SecretStr = Field(SecretStr(DEMO_API_KEYS), alias="ARREARS_API_KEYS")
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_from: str | None = Field(None, alias="TWILIO_FROM")
    # Without TWILIO_*, the secret the sandbox gateway signs its callbacks (and checks the
    # worker's calls) with, and the API checks webhook signatures with. Unset, the gateway and
    # the worker fall back to the token published above, but the API accepts no webhook: a
    # token in the source proves nothing. `arrears up` makes a fresh one per run.
    sandbox_auth_token: SecretStr | None = Field(None, alias="ARREARS_SANDBOX_AUTH_TOKEN")
    sandbox_url: str = Field("http://127.0.0.1:8010", alias="ARREARS_SANDBOX_URL")
    # How long a payment waits for the workflow's answer (409 on a conflicting repeat) before it
    # goes as a signal because no worker answers (api/services/payments.py).
    payment_answer_seconds: float = Field(10.0, gt=0, le=60, alias="ARREARS_PAYMENT_ANSWER_SECONDS")
    # Events to the loan system (CONTRACT.md v1.1): with a URL, `arrears deliver-events` POSTs
    # every event there, signed with the secret (HMAC-SHA256). `arrears up` points both at the
    # sandbox gateway's receiver when they are unset.
    loan_system_webhook_url: str | None = Field(None, alias="ARREARS_LOAN_SYSTEM_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(None, alias="ARREARS_WEBHOOK_SECRET")
    public_url: str = Field("http://127.0.0.1:8000", alias="ARREARS_PUBLIC_URL")
    data_dir: Path = Field(Path("./data"), alias="ARREARS_DATA_DIR")
    # Comma-separated `[key_id:]base64(32 bytes)`: the first encrypts, all decrypt (rotation).
    # The default is a fixed, public dev key (core/codec.py): production must set its own.
    payload_key: SecretStr = Field(SecretStr(DEV_PAYLOAD_KEY), alias="ARREARS_PAYLOAD_KEY")
    # With the dev key above against a Temporal that is not on this machine, the worker and the
    # API refuse to start (core.codec.check_dev_key) unless this is set: a staging cluster
    # holding only synthetic borrowers may say so explicitly.
    allow_dev_key: bool = Field(False, alias="ARREARS_ALLOW_DEV_KEY")
    # Browser origins (comma-separated) of the Temporal Web UI that may call /codec/* with the
    # auditor's codec session cookie (CORS with credentials; docs/audit.md).
    ui_origins: str = Field(
        "http://localhost:8233,http://127.0.0.1:8233", alias="ARREARS_UI_ORIGINS"
    )
    # Champion/challenger without editing strategy files (api/services/onboarding.py,
    # choose_strategy):
    # new accounts start under ARREARS_STRATEGY; with ARREARS_CHALLENGER set, that percent of
    # them (by loan id) start under the challenger instead. Unset, the champion file's own
    # `challenger:` applies; "none" switches an experiment named in the file off.
    strategy: str = Field("default", alias="ARREARS_STRATEGY")
    challenger: str | None = Field(None, alias="ARREARS_CHALLENGER")
    challenger_split: int = Field(50, ge=0, le=100, alias="ARREARS_CHALLENGER_SPLIT")
    # Who a collector's "hand to the team lead" goes to when they name nobody (section 5).
    team_lead: str = Field("carol", alias="ARREARS_TEAM_LEAD")
    # The desk's single sign-on (docs/desk.md): with all three set, the sign-in page offers
    # OpenID Connect (authorization code with PKCE) beside the password form.
    oidc_issuer: str | None = Field(None, alias="ARREARS_OIDC_ISSUER")
    oidc_client_id: str | None = Field(None, alias="ARREARS_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(None, alias="ARREARS_OIDC_CLIENT_SECRET")
    # Versioned policy files (docs/policy.md): strategies/, profiles/ and calendars/ (an
    # operator adds a year's public holidays here without a release).
    policy_dir: Path = Field(POLICY_DIR, alias="ARREARS_POLICY_DIR")
    # Worker Versioning (docs/versioning.md): every worker serves one build of one deployment;
    # an episode stays on the build that started it and moves at a stage boundary. The build id
    # defaults to the checkout's git commit (the image sets it from its build argument).
    deployment_name: str = Field("arrears", alias="ARREARS_DEPLOYMENT_NAME")
    build_id: str | None = Field(None, alias="ARREARS_BUILD_ID")
    worker_versioning: bool = Field(True, alias="ARREARS_WORKER_VERSIONING")
    # Make this worker's build the deployment's current version when it starts (new episodes
    # start on it). A blue/green rollout sets this off and promotes with
    # `temporal worker deployment set-current-version` once the new build is healthy.
    promote_build: bool = Field(True, alias="ARREARS_PROMOTE_BUILD")
    # Worker operations (docs/operations-temporal.md): unset tuning values are sized for the
    # machine at start (worker/tuning.py).
    worker_shutdown_grace: float = Field(30.0, ge=0, alias="ARREARS_WORKER_SHUTDOWN_GRACE")
    worker_cache_size: int | None = Field(None, ge=0, alias="ARREARS_WORKER_CACHE_SIZE")
    worker_max_workflow_tasks: int | None = Field(
        None, ge=1, alias="ARREARS_WORKER_MAX_WORKFLOW_TASKS"
    )
    worker_max_activities: int | None = Field(None, ge=1, alias="ARREARS_WORKER_MAX_ACTIVITIES")
    worker_workflow_pollers: int | None = Field(None, ge=2, alias="ARREARS_WORKER_WORKFLOW_POLLERS")
    worker_activity_pollers: int | None = Field(None, ge=1, alias="ARREARS_WORKER_ACTIVITY_POLLERS")
    # Activities per second for the whole task queue, enforced by the Temporal server across
    # every worker (unset: no limit), and SMS per second per worker process, at the provider call.
    task_queue_activities_per_second: float | None = Field(
        None, gt=0, alias="ARREARS_TASK_QUEUE_ACTIVITIES_PER_SECOND"
    )
    sms_per_second: float | None = Field(None, gt=0, alias="ARREARS_SMS_PER_SECOND")
    # The worker's own /health/live and /health/ready (0: not served), for probes.
    worker_health_port: int = Field(0, ge=0, le=65535, alias="ARREARS_WORKER_HEALTH_PORT")
    worker_health_host: str = Field("127.0.0.1", alias="ARREARS_WORKER_HEALTH_HOST")
    # Observability (issue 18, docs/operations.md). The worker serves the Temporal SDK's metrics
    # and our business counters on this port (Prometheus text; unset: no endpoint); the API
    # serves its own on GET /metrics.
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535, alias="ARREARS_WORKER_METRICS_PORT"
    )
    worker_metrics_host: str = Field("127.0.0.1", alias="ARREARS_WORKER_METRICS_HOST")
    # Log lines: `json` (one object per line, the default) or `text` (for a developer's eyes;
    # `arrears up` starts its children with it unless this is set).
    log_format: Literal["json", "text"] = Field("json", alias="ARREARS_LOG_FORMAT")
    log_level: str = Field("INFO", alias="ARREARS_LOG_LEVEL")
    # OpenTelemetry traces over OTLP/HTTP when set (e.g. http://collector:4318); unset, no
    # tracer provider, no interceptor, no cost.
    otlp_endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service_name: str | None = Field(None, alias="OTEL_SERVICE_NAME")
    # The business clock of the API and the store's "now" (docs/virtual-time.md): `system`, or
    # `server` = the virtual clock of Temporal's time-skipping test server (`arrears up
    # --virtual-time`), for lenders' integration tests and collector training. A process refuses
    # `server` against a Temporal that is not the time-skipping test server.
    clock: Literal["system", "server"] = Field("system", alias="ARREARS_CLOCK")

    @property
    def virtual_time(self) -> bool:
        """The business clock is the test server's virtual one (ARREARS_CLOCK=server)."""
        return self.clock == "server"

    @property
    def calendars_dir(self) -> Path:
        return self.policy_dir / "calendars"

    @property
    def effective_database_url(self) -> str:
        """SQLite under the data directory unless DATABASE_URL says otherwise."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'arrears.db'}"

    @property
    def uses_twilio(self) -> bool:
        """Real Twilio only when all three TWILIO_* are set; one or two set is a mistake that the
        Twilio client builder reports rather than silently falling back to the sandbox."""
        return bool(
            self.twilio_account_sid and _reveal(self.twilio_auth_token) and self.twilio_from
        )

    @property
    def twilio_account(self) -> tuple[str, str, str]:
        """(account SID, auth token, sender number): real Twilio's, else the sandbox gateway's."""
        if self.uses_twilio:
            return (
                str(self.twilio_account_sid),
                _reveal(self.twilio_auth_token),
                str(self.twilio_from),
            )
        token = _reveal(self.sandbox_auth_token) or SANDBOX_AUTH_TOKEN
        return SANDBOX_ACCOUNT_SID, token, SANDBOX_FROM

    @property
    def webhook_auth_token(self) -> str | None:
        """The secret webhook signatures are checked with: Twilio's auth token, else the
        configured sandbox token; None when neither is set (the published sandbox token is
        never a secret, so nothing signed with it is believed)."""
        if self.uses_twilio:
            return _reveal(self.twilio_auth_token)
        return _reveal(self.sandbox_auth_token) or None

    @property
    def webhook_secret_value(self) -> str | None:
        """ARREARS_WEBHOOK_SECRET's value, for signing and checking event deliveries only."""
        return _reveal(self.webhook_secret) or None

    @property
    def payload_key_spec(self) -> str:
        """ARREARS_PAYLOAD_KEY's value, for the codec only."""
        return self.payload_key.get_secret_value()

    @property
    def api_keys_spec(self) -> str:
        """ARREARS_API_KEYS's value, for the API's keyring only."""
        return self.api_keys.get_secret_value()


def _reveal(secret: SecretStr | None) -> str:
    """A secret's value ('' when unset), where it is handed to the library that uses it."""
    return secret.get_secret_value() if secret is not None else ""


def environment_names() -> set[str]:
    """The environment variable names the settings understand (used to check deployment files)."""
    return {field.alias for field in Settings.model_fields.values() if field.alias}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
