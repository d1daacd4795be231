"""Runtime settings, read from the environment with the ``ACCORDS_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///var/accords.db"


def normalize_database_url(url: str) -> str:
    """Map the URLs operators usually write to the async drivers Accords runs on."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORDS_", extra="ignore")

    database_url: str = DEFAULT_SQLITE_URL
    # Empty means the in-process broker (embedded default).
    broker_url: str = ""
    bootstrap_api_key: str | None = Field(default=None, repr=False)
    # Encrypts webhook signing secrets at rest; development and tests fall back
    # to a fixed key (see shared/secret_box.py), production must set it.
    secret_key: str | None = Field(default=None, repr=False)
    webhook_allow_private_targets: bool = False
    # NoDecode: the environment holds "0,5,300", not JSON; the validator parses it.
    webhook_retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    )
    webhook_timeout_seconds: float = 15.0
    # How long a claimed delivery is kept from other senders; renewed while
    # its send runs. Unset: the send timeout plus 10 s.
    webhook_lease_seconds: float | None = Field(default=None, gt=0)
    sweep_interval_seconds: float = 60.0
    # Redis may lose a message it accepted (a restart without persistence):
    # an event handed to it and still unconsumed after this long is handed over again.
    broker_redelivery_seconds: float = 60.0
    dormancy_days: int = 90
    rate_limit_per_minute: int = 1200
    # Where rate-limit counters live when several API processes share them:
    # Redis when set (or when BROKER_URL is redis://), else the database.
    redis_url: str = ""
    max_body_bytes: int = 1_048_576
    # Where people and partners reach Accords: links in emails, calendar
    # entries and exports; an https:// URL also turns on HSTS and Secure cookies.
    public_url: str = "http://127.0.0.1:8000"
    # Email reminders: smtp://[user:pass@]host:port (STARTTLS when offered) or
    # smtps:// (implicit TLS). Empty: notifications are kept as `held`.
    smtp_url: str = Field(default="", repr=False)
    mail_from: str = "Accords <accords@localhost>"
    smtp_timeout_seconds: float = 30.0
    # How long a claimed notification stays with the pump that claimed it; a
    # pump killed mid-send leaves it to another after this. Kept well above
    # the SMTP timeout, so a send never outlives its lease.
    mail_lease_seconds: float = 120.0
    # Seconds between attempts when the SMTP server fails; then `failed`.
    mail_retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [0, 60, 300, 1800, 7200, 21600]
    )
    digest_hour_utc: int = Field(default=7, ge=0, le=23)
    expiry_reminder_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [90, 30, 7]
    )
    # The largest document upload (POST /v1/documents has its own body limit).
    max_document_bytes: int = 26_214_400
    log_format: Literal["json", "console"] = "json"
    log_level: str = "info"
    environment: Literal["production", "development", "test"] = "production"
    # The IATI publisher: organisation identifier, OrganisationType code, name.
    # The IATI export answers 409 until all three are set.
    iati_reporting_org_ref: str | None = None
    iati_reporting_org_type: str | None = None
    iati_reporting_org_name: str | None = None
    # xml:lang of the narratives Accords writes (its texts carry no language).
    iati_language: str = "en"
    # Dashboard sign-in attempts per client address and minute.
    login_attempts_per_minute: int = 10
    # Database connections per process (PostgreSQL): kept open up to the pool
    # size, opened beyond it up to the overflow for bursts and closed after.
    # Sized so that a process's usual concurrency (64 connections over two
    # workers) never opens and closes a connection per request.
    db_pool_size: int = Field(default=32, ge=1, le=500)
    db_max_overflow: int = Field(default=8, ge=0, le=500)
    # GET answers kept per process, given again while the data version
    # (shared.data_version) and the day are unchanged; 0 turns the cache off.
    response_cache_mb: int = Field(default=64, ge=0, le=65_536)
    # What the data cannot tell (an idle session timing out) is at most this late.
    response_cache_ttl_seconds: float = Field(default=10.0, gt=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator(
        "webhook_retry_schedule", "mail_retry_schedule", "expiry_reminder_days", mode="before"
    )
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def rate_limit_redis_url(self) -> str | None:
        """The Redis the rate limiter counts in, or None to count in the database."""
        if self.redis_url:
            return self.redis_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
