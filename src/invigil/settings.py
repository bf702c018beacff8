"""Process configuration, read once from the environment (see docs/operations.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVIGIL_", extra="ignore")

    home: Path = Field(default=Path("var"), description="embedded database, objects, keys, logs")
    # DATABASE_URL (no prefix, as every platform names it): an administrative
    # connection to an existing PostgreSQL. Unset means the embedded server.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    app_database_url: str | None = Field(
        default=None, description="explicit DSN of the app role; derived when unset"
    )
    # Behind a pooler in transaction mode (PgBouncer): no server-side prepared
    # statements, and LISTEN goes to listen_database_url (PostgreSQL itself).
    db_pooler: Literal["none", "transaction"] = "none"
    listen_database_url: str | None = Field(
        default=None,
        description="the app role straight to PostgreSQL, for LISTEN (the app DSN when unset)",
    )
    db_name: str = "invigil"
    db_owner_role: str = "invigil_owner"
    db_app_role: str = "invigil_app"
    db_app_password: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 5
    # The embedded server: start it again when it dies under `serve` or `worker`
    # (false: an operator starts it, e.g. with `invigil db url`).
    embedded_restart: bool = True
    # Candidates' requests (saves, heartbeats, event batches...) running at once
    # in one server process; more wait their turn in the event loop (ADR 0010).
    candidate_concurrency: int = Field(default=3, ge=1, le=64)
    object_store: str = "local"
    # Evidence: a store URL per region ('local', 'file:///path', 's3://bucket[/prefix]'),
    # as JSON in INVIGIL_OBJECT_STORES; regions not named derive theirs from object_store.
    object_stores: dict[str, str] = Field(default_factory=dict)
    master_key: SecretStr | None = Field(
        default=None, description="base64 256-bit master key; unset: <keys>/master.key"
    )
    evidence_url_seconds: int = Field(default=300, ge=10, le=300)
    log_format: str = Field(default="json", pattern="^(json|console)$")
    log_level: str = "INFO"
    default_region: str = "eu-central"
    regions: tuple[str, ...] = ("eu-central", "us-east", "ap-southeast")
    # Tokens (RFC 9068): who issues them and for which audience.
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "invigil-api"
    access_token_minutes: int = Field(default=10, ge=1, le=15)
    refresh_token_hours: int = Field(default=12, ge=1, le=24 * 30)
    web_session_idle_minutes: int = Field(default=30, ge=5, le=24 * 60)
    # argon2id parameters for staff passwords: production keeps RFC 9106's
    # low-memory profile; "test-only-minimal" (the test suite's) is not a
    # protection at all, and the app logs a warning when it is set.
    argon2_profile: Literal["rfc9106-low-memory", "test-only-minimal"] = "rfc9106-low-memory"
    # Sign-in throttling (per account and per address, inside a tenant).
    sign_in_window_minutes: int = 15
    sign_in_max_failures_per_account: int = 5
    sign_in_max_failures_per_address: int = 20
    # Mail (invitations). No host: mail stays in the outbox, marked not sent.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Invigil <no-reply@invigil.invalid>"
    smtp_timeout_seconds: float = Field(default=20, gt=0, le=300)
    # Guest links: how long an invitation stays open when no window is given.
    invitation_valid_hours: int = Field(default=7 * 24, ge=1, le=366 * 24)
    # How long a candidate's result link works after it is sent (ADR 0035).
    result_link_days: int = Field(default=30, ge=1, le=366)
    # How long a candidate's portal link works after it is sent (ADR 0059).
    portal_link_hours: int = Field(default=24, ge=1, le=7 * 24)
    # Outbound webhooks (docs/formats/webhooks.md, ADR 0038). Receivers must
    # be https on a public address; these two open that up for a receiver on
    # the same machine or network (development, tests), never in production.
    webhook_allow_private: bool = False
    webhook_allow_http: bool = False
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    # How long a built evidence bundle is kept before it is purged (ADR 0041).
    bundle_days: int = Field(default=7, ge=1, le=90)
    # Public routes (the certificate verification page, the credentials and
    # status lists): requests per minute per client address (IPv6: per /64),
    # the burst allowed on top, and how many addresses are remembered (the
    # least recently seen is forgotten first: memory stays bounded). ADR 0044.
    public_rate_per_minute: int = Field(default=60, ge=1, le=10_000_000)
    public_rate_burst: int = Field(default=20, ge=1, le=10_000_000)
    public_rate_clients: int = Field(default=100_000, ge=100, le=10_000_000)
    # How long one server process reuses what the verification page read for a
    # certificate id (0: never). A revocation shows within this many seconds.
    verify_cache_seconds: int = Field(default=10, ge=0, le=60)
    # AI features (off unless a provider is configured here or by a tenant):
    # any OpenAI-compatible chat-completions endpoint.
    ai_base_url: str | None = Field(default=None, max_length=2000)
    ai_model: str | None = Field(default=None, max_length=100)
    ai_api_key: SecretStr | None = None
    ai_api_key_file: Path | None = None
    ai_timeout_seconds: float = Field(default=30, gt=0, le=300)
    ai_max_retries: int = Field(default=2, ge=0, le=5)
    ai_concurrency: int = Field(default=4, ge=1, le=64)  # calls at once per server process
    ai_allow_private: bool = False  # a tenant's own provider may be on a private address
    # Staff single sign-on (OpenID Connect, docs/integrations/sso.md). A
    # tenant's provider must be https on a public address; these two open
    # that up for a provider on the same machine or network (development,
    # tests), never in production. Discovery documents and signing keys are
    # reused for ``sso_cache_seconds`` (keys fetched again at once when a
    # token names an unknown one).
    sso_allow_private: bool = False
    sso_allow_http: bool = False
    sso_timeout_seconds: float = Field(default=10, gt=0, le=60)
    sso_cache_seconds: int = Field(default=3600, ge=0, le=24 * 3600)
    # LTI 1.3 (docs/integrations/lti.md): a platform's URLs (key set, token,
    # line items) must be https on a public address; these two open that up
    # for a platform on the same machine or network (development, tests),
    # never in production. Platform key sets are reused for
    # ``lti_cache_seconds`` (fetched again at once for an unknown key id).
    lti_allow_private: bool = False
    lti_allow_http: bool = False
    lti_timeout_seconds: float = Field(default=10, gt=0, le=60)
    lti_cache_seconds: int = Field(default=3600, ge=0, le=24 * 3600)
    # The operator API (top-ups, price lists over HTTP; docs/operations.md):
    # a file holding the operator's secret token. Unset: those routes answer 404.
    operator_token_file: Path | None = None
    # Failed operator sign-ins per minute per client address, and the burst.
    operator_failures_per_minute: int = Field(default=5, ge=1, le=10_000)
    operator_failures_burst: int = Field(default=5, ge=1, le=10_000)
    # Prometheus metrics at /metrics (docs/operations.md, "Metrics"): a file
    # holding the scraper's bearer token. Unset: /metrics answers 404.
    metrics_token_file: Path | None = None
    # The gauges read from the database (job queues, mail outbox) are read at
    # most once per this many seconds per server process, each read given at
    # most metrics_query_seconds; a scrape in between shows the last values.
    metrics_cache_seconds: float = Field(default=5, ge=0, le=300)
    metrics_query_seconds: float = Field(default=2, gt=0, le=30)
    # OpenTelemetry traces (the `tracing` extra): the OTLP/HTTP endpoint's base
    # URL; unset (the default) means no tracing at all.
    otlp_endpoint: str | None = Field(
        default=None,
        max_length=2000,
        validation_alias=AliasChoices("INVIGIL_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
