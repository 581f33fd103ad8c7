"""Settings, read from the environment (prefix-free names, as twelve-factor deployments expect)."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, PostgresDsn, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Refused in production (see the validator below).
DEVELOPMENT_SECRET = "development-only-secret-never-use-in-production"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql+asyncpg://postgres@127.0.0.1:5432/territoire"),
        description="SQLAlchemy URL of the PostGIS database (asyncpg driver).",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_replica_urls: list[PostgresDsn] = Field(
        default=[],
        description="Streaming standbys of the primary for public reads (JSON list of URLs); "
        "see app/replicas.py. Empty: every read on the primary.",
    )
    replica_max_lag_seconds: float = Field(
        default=5.0, ge=0, description="A replica further behind the primary is left out."
    )
    replica_check_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often each replica's health and lag is checked."
    )
    replica_debug_header: bool = Field(
        default=False,
        description="Say in an X-Read-From header where a request's reads ran (tests, debugging:"
        " it shows the topology, keep it off in production).",
    )
    database_statement_timeout_ms: int = Field(default=15_000, ge=100)
    database_connect_timeout_seconds: float = Field(
        default=1.5,
        gt=0,
        le=60,
        description="Time to open a database connection before the request gets a 503.",
    )
    database_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Wait for a free pooled connection, then 503."
    )
    database_command_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Client-side limit of one statement of the hot read paths (a server that "
        "stopped answering without closing its sockets).",
    )
    outage_retry_after_seconds: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="Retry-After of the 503 answered while the database does not answer.",
    )
    export_statement_timeout_ms: int = Field(
        default=1_800_000,
        ge=1_000,
        description="Time limit of one bulk export or catalog (one long statement), in ms.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Absolute URL of the service, for links; taken from each request when unset.",
    )
    log_level: str = "info"
    response_cache: bool = Field(
        default=True,
        description="Serve repeated public GETs from memory; database notifications invalidate it.",
    )
    response_cache_max_mb: int = Field(default=64, ge=1, le=4096)
    http_max_age: int = Field(
        default=60,
        ge=0,
        le=86_400,
        description="Cache-Control max-age of public data, in seconds (clients revalidate after).",
    )
    cors_write_origins: list[str] = Field(
        default=[],
        description="Origins a browser may send writes from (reads are open to every origin).",
    )
    catalog_page_size: int = Field(
        default=50, ge=1, le=1000, description="Datasets per page of the DCAT catalog (Hydra)."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description=(
            "Let webhooks target private, loopback or link-local addresses (tests, an intranet);"
            " refused by default against server-side request forgery."
        ),
    )
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_retry_hours: float = Field(
        default=72.0, ge=24.0, description="How long a failing delivery is retried (≥ 24 h)."
    )
    webhook_disable_after_hours: float = Field(
        default=72.0,
        gt=0,
        description="A subscription whose deliveries all fail for this long is disabled.",
    )
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    comment_moderation: Literal["pre", "post"] = Field(
        default="pre",
        description="Members' comments: published once a moderator accepts them (pre), or at "
        "once and moderated afterwards (post).",
    )
    digest_poll_seconds: float = Field(default=60.0, gt=0, le=3600)
    smtp_host: str | None = Field(
        default=None, description="SMTP server for emails; none: no email."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "territoire@localhost"

    # Public writes (proposals, supports): see app/ratelimit.py, app/limits.py, app/idempotency.py.
    secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET),
        description="Server secret for the HMACs of supporter identities and client addresses "
        "and for sealing stored idempotent responses; required in production.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (per process) or "
        "redis://host:port/db (shared by every worker and instance).",
    )
    rate_limit_proposals: str = Field(
        default="10/hour;3/minute", description="Proposals per client (limits notation)."
    )
    rate_limit_supports: str = Field(
        default="60/hour;10/minute", description="Supports per client (limits notation)."
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed; otherwise the client is the peer address.",
    )
    # Operations: app/metrics.py, app/observability.py.
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics requires `Authorization: Bearer <token>`.",
    )
    metrics_database_timeout_seconds: float = Field(
        default=1.0, gt=0, le=30, description="Time the queue gauges of /metrics may take."
    )
    access_log: bool = Field(
        default=True, description="One JSON line per request on the territoire.access logger."
    )
    max_body_bytes: int = Field(
        default=262_144, ge=1024, description="Largest request body accepted, in bytes."
    )

    @model_validator(mode="after")
    def _secret_set_in_production(self) -> "Settings":
        if self.environment == "production" and (
            self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError("set SECRET_KEY (at least 32 characters) in production")
        return self

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: PostgresDsn) -> PostgresDsn:
        # Accept the plain postgresql:// form that hosting platforms hand out.
        url = str(value)
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return PostgresDsn("postgresql+asyncpg://" + url.removeprefix(prefix))
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
