"""Every knob viber-bot has, read from the environment and `.env` (names as in CONTRACT.md)."""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.errors import ConfigurationError
from bot.domain.limits import BATCH_MAX, CREATE_LINGER, SENDER_MAX

CommaList = Annotated[frozenset[str], NoDecode]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DatabaseSettings(BaseSettings):
    """VIBER_BOT_DB and nothing else: what the read-only operator commands need (no Slack or
    BSG secrets). Read like every setting, from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        hide_input_in_errors=True,
    )

    # A SQLite file, or a postgresql:// URL (see `postgres_url` and `db_path`).
    database: str = Field("viber-bot.db", min_length=1, validation_alias="VIBER_BOT_DB", repr=False)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        value = value.strip()
        if is_postgres_url(value):
            check_postgres_url(value)
        elif "://" in value:
            # Another scheme (mysql://, sqlite:///…) would silently become an odd file path.
            scheme = value.split("://", 1)[0]
            raise ValueError(
                f"{scheme}:// is not supported: give a SQLite file path or a postgresql:// URL"
            )
        return value

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL URL when VIBER_BOT_DB is one, else None (SQLite)."""
        return self.database if is_postgres_url(self.database) else None

    @property
    def db_path(self) -> Path:
        """The SQLite file (meaningless when `postgres_url` is set)."""
        return Path(self.database)

    @property
    def database_label(self) -> str:
        """VIBER_BOT_DB fit for logs: a URL's password is left out."""
        return redact_url(self.database) if self.postgres_url else self.database


class Settings(DatabaseSettings):
    """The bot's configuration. Construct with `load_settings()` to get one-line errors."""

    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    bsg_api_key: SecretStr = Field(validation_alias="BSG_API_KEY")
    bsg_api_url: str = Field("https://api.bsg.world/rest", validation_alias="BSG_API_URL")
    command: str = Field("/viber", validation_alias="VIBER_BOT_COMMAND")
    default_sender: str = Field(
        validation_alias="VIBER_BOT_DEFAULT_SENDER", min_length=1, max_length=SENDER_MAX
    )
    default_region: str | None = Field(None, validation_alias="VIBER_BOT_DEFAULT_REGION")
    poll_interval: PositiveFloat = Field(15.0, validation_alias="VIBER_BOT_POLL_INTERVAL")
    allowed_users: CommaList = Field(frozenset(), validation_alias="VIBER_BOT_ALLOWED_USERS")
    allowed_channels: CommaList = Field(frozenset(), validation_alias="VIBER_BOT_ALLOWED_CHANNELS")
    mask_numbers: bool = Field(True, validation_alias="VIBER_BOT_MASK_NUMBERS")
    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: int = Field(3000, ge=0, le=65535, validation_alias="PORT")

    # Beyond the contract: knobs with defaults that work.
    poll_concurrency: PositiveInt = Field(16, validation_alias="VIBER_BOT_POLL_CONCURRENCY")
    # Two hours: a message quiet all day costs ~38 looks, not 48; the first hour is unchanged.
    poll_max_interval: PositiveFloat = Field(7200.0, validation_alias="VIBER_BOT_POLL_MAX_INTERVAL")
    poll_backoff_factor: PositiveFloat = Field(
        0.25, validation_alias="VIBER_BOT_POLL_BACKOFF_FACTOR"
    )
    expiry_grace: float = Field(3600.0, ge=0, validation_alias="VIBER_BOT_EXPIRY_GRACE")
    reconcile_grace: float = Field(120.0, ge=0, validation_alias="VIBER_BOT_RECONCILE_GRACE")
    max_recipients: PositiveInt = Field(100, validation_alias="VIBER_BOT_MAX_RECIPIENTS")
    daily_quota: PositiveInt | None = Field(None, validation_alias="VIBER_BOT_DAILY_QUOTA")
    bsg_batch_size: int = Field(50, ge=1, le=BATCH_MAX, validation_alias="VIBER_BOT_BSG_BATCH_SIZE")
    bsg_create_concurrency: int = Field(
        4, ge=1, le=32, validation_alias="VIBER_BOT_BSG_CREATE_CONCURRENCY"
    )
    # Seconds a create batch may wait to share a request while another create is under way.
    bsg_create_linger: float = Field(
        CREATE_LINGER, ge=0, le=1, validation_alias="VIBER_BOT_BSG_CREATE_LINGER"
    )
    bsg_timeout: PositiveFloat = Field(10.0, validation_alias="VIBER_BOT_BSG_TIMEOUT")
    bsg_retries: int = Field(3, ge=0, le=10, validation_alias="VIBER_BOT_BSG_RETRIES")
    slack_post_interval: float = Field(1.0, ge=0, validation_alias="VIBER_BOT_SLACK_POST_INTERVAL")
    # Posts a channel may take at once after a quiet spell (Slack allows short bursts).
    slack_post_burst: int = Field(2, ge=1, le=10, validation_alias="VIBER_BOT_SLACK_POST_BURST")
    slack_retries: int = Field(5, ge=0, le=20, validation_alias="VIBER_BOT_SLACK_RETRIES")
    # Tries before an outbox row that keeps failing for a reason no retry fixes is set aside.
    outbox_max_attempts: int = Field(
        5, ge=1, le=100, validation_alias="VIBER_BOT_OUTBOX_MAX_ATTEMPTS"
    )
    parent_refresh: float = Field(300.0, ge=1, validation_alias="VIBER_BOT_PARENT_REFRESH")
    summary_threshold: PositiveInt = Field(5, validation_alias="VIBER_BOT_SUMMARY_THRESHOLD")
    max_file_bytes: PositiveInt = Field(5_000_000, validation_alias="VIBER_BOT_MAX_FILE_BYTES")
    file_timeout: PositiveFloat = Field(2.0, validation_alias="VIBER_BOT_FILE_TIMEOUT")
    balance_cache_seconds: float = Field(300.0, ge=0, validation_alias="VIBER_BOT_BALANCE_CACHE")
    # PostgreSQL replicas (ignored with SQLite).
    lease_seconds: float = Field(30.0, ge=2, le=3600, validation_alias="VIBER_BOT_LEASE_SECONDS")
    claim_batch: int = Field(500, ge=1, le=50_000, validation_alias="VIBER_BOT_CLAIM_BATCH")
    pg_pool_size: int = Field(10, ge=2, le=200, validation_alias="VIBER_BOT_PG_POOL_SIZE")
    heartbeat_interval: float = Field(
        5.0, ge=0.1, le=600, validation_alias="VIBER_BOT_HEARTBEAT_INTERVAL"
    )
    # Estimate and review (CONTRACT "More settings"; the last three beyond it).
    review_above: int = Field(20, ge=0, validation_alias="VIBER_BOT_REVIEW_ABOVE")
    review_cost: Decimal | None = Field(None, ge=0, validation_alias="VIBER_BOT_REVIEW_COST")
    estimate_timeout: PositiveFloat = Field(3.0, validation_alias="VIBER_BOT_ESTIMATE_TIMEOUT")
    estimate_cache: float = Field(300.0, ge=0, validation_alias="VIBER_BOT_ESTIMATE_CACHE")
    quick_confirm_ttl: PositiveFloat = Field(600.0, validation_alias="VIBER_BOT_QUICK_CONFIRM_TTL")
    # Delivery callbacks (CONTRACT "Delivery callbacks"): off while VIBER_BOT_PUBLIC_URL is unset.
    public_url: str | None = Field(None, validation_alias="VIBER_BOT_PUBLIC_URL")
    callback_secret: SecretStr | None = Field(None, validation_alias="VIBER_BOT_CALLBACK_SECRET")
    # Callbacks for one message within this many seconds share one status request.
    callback_coalesce: float = Field(
        0.2, ge=0, le=0.9, validation_alias="VIBER_BOT_CALLBACK_COALESCE"
    )
    # While callbacks arrive for a message, its poll gaps grow this many times (polling stays
    # the backstop; 4 keeps a delivered message's look for "read" within the policy's cap).
    callback_poll_stretch: float = Field(
        4.0, ge=1, le=100, validation_alias="VIBER_BOT_CALLBACK_POLL_STRETCH"
    )
    # Sends with summary replies take their callbacks in rounds at least this far apart.
    callback_summary_gap: float = Field(
        10.0, ge=0, le=3600, validation_alias="VIBER_BOT_CALLBACK_SUMMARY_GAP"
    )
    # Per source address: sustained callbacks a second, and the burst allowed above that.
    callback_rate: PositiveFloat = Field(2000.0, validation_alias="VIBER_BOT_CALLBACK_RATE")
    callback_burst: PositiveInt = Field(20_000, validation_alias="VIBER_BOT_CALLBACK_BURST")
    log_format: Literal["text", "json"] = Field("text", validation_alias="VIBER_BOT_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="VIBER_BOT_LOG_LEVEL"
    )

    @field_validator("allowed_users", "allowed_channels", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "slack_signing_secret",
        "slack_app_token",
        "default_region",
        "daily_quota",
        "review_cost",
        "public_url",
        "callback_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"'{value}' is not an ISO country code phonenumbers knows (e.g. UA)")
        return region

    @field_validator("slack_api_url", "bsg_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("bsg_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        url = urlsplit(value)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError("must be an https:// URL (http:// only on loopback)")
        if url.scheme == "http" and not _loopback(url.hostname):
            raise ValueError("must be https:// (http:// is allowed only on loopback)")
        if url.query or url.fragment:
            raise ValueError("must be a base URL without ?query or #fragment")
        return value

    @field_validator("callback_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/") or len(value) < 2 or " " in value:
            raise ValueError("must look like /viber")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @model_validator(mode="after")
    def _signing_secret_for_http(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "SLACK_SIGNING_SECRET: required in HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def callbacks_on(self) -> bool:
        return self.public_url is not None

    def secrets(self) -> list[str]:
        """Every secret value, for scrubbing logs and for tests that prove none leak."""
        values = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token]
        values.append(self.bsg_api_key)
        values.append(self.callback_secret)
        found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        password = postgres_password(self.database) if self.postgres_url else None
        return found + ([password] if password else [])


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(value: str) -> bool:
    """Whether VIBER_BOT_DB names a PostgreSQL server rather than a SQLite file."""
    return value.strip().lower().startswith(POSTGRES_SCHEMES)


def check_postgres_url(value: str) -> None:
    """ValueError (never echoing the password) unless libpq can parse the URL."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("the port in the postgresql:// URL is not a number") from None
    if not parts.path.strip("/"):
        raise ValueError("the postgresql:// URL names no database (…@host:port/DATABASE)")


def postgres_password(value: str) -> str | None:
    return urlsplit(value).password or None


def redact_url(value: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(value)
    if not parts.password:
        return value
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = first.get("loc") or ()
    field = str(loc[0]) if loc else ""
    message = first.get("msg", "is invalid")
    if first.get("type") == "missing":
        return f"{field}: required but not set"
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if not field:
        # Model-level checks name their variable themselves.
        return message
    return f"{field}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise ConfigurationError with one line naming what is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None
