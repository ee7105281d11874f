"""Settings read from the environment and `.env`, validated before anything starts."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.app import parse_api_keys, parse_api_webhooks
from application.aftersales_ports import AftersalesSettings
from application.exceptions import ExceptionSettings
from domain.aftersales.retention import RetentionPeriod
from domain.orders.status import Role
from domain.review import parse_threshold
from domain.sla.calendar import Duration
from domain.sla.country_holidays import supports
from domain.sla.policy_file import SlaPolicyError, load_policy

DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
REDIS_SCHEMES = ("redis", "rediss", "unix")
BOT_TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# Telegram's rule for the secret_token of setWebhook.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MISSING_TOKEN_MESSAGE = "BOT_TOKEN is not set: put it in .env (see .env.example) or the environment"

# Which staff roles work in each team chat; the chat's command menu is chosen by these.
TEAM_CHAT_ROLES: dict[str, frozenset[Role]] = {
    "order_desk_chat_id": frozenset({Role.ORDER_DESK, Role.ORDER_DESK_HEAD}),
    "warehouse_chat_id": frozenset({Role.WAREHOUSE}),
    "logistics_chat_id": frozenset({Role.LOGISTICS}),
    "customer_service_chat_id": frozenset({Role.CUSTOMER_SERVICE}),
    "finance_chat_id": frozenset({Role.FINANCE}),
    "management_chat_id": frozenset({Role.MANAGEMENT}),
}


class ConfigError(Exception):
    """The configuration cannot be used; each line names the key and what is wrong."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # An empty `KEY=` line in .env means "not set", as in .env.example.
        env_ignore_empty=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/orderdesk.sqlite3"
    redis_url: str | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    order_desk_chat_id: int | None = None
    warehouse_chat_id: int | None = None
    logistics_chat_id: int | None = None
    customer_service_chat_id: int | None = None
    finance_chat_id: int | None = None
    management_chat_id: int | None = None
    timezone: str = "Asia/Shanghai"
    default_language: Literal["en", "zh"] = "en"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "/telegram/webhook"
    sla_policy_file: str | None = None
    sla_sweep_seconds: int = Field(default=60, ge=1, le=3600)
    escalate_after: str = "30m"
    holiday_country: str = "CN"
    working_hours: str = "09:00-18:00"
    large_order_threshold: str = "10000 CNY"
    api_port: int | None = Field(default=None, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_keys: SecretStr | None = Field(default=None, validate_default=True)
    outbox_lease_seconds: int = Field(default=180, ge=2, le=86400)
    reply_retry_seconds: float = Field(default=5.0, ge=0, le=60)
    # Email to customers (issue 12): off while SMTP_HOST is empty.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "OrderDesk <orders@example.com>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    # Platform webhooks: name:url pairs, the names of API_KEYS entries.
    api_webhooks: str | None = Field(default=None, validate_default=True)
    # The sender of confirmations (PDF and email).
    company_name: str = "OrderDesk Logistics"
    company_address: str = ""
    company_phone: str = ""
    company_email: str = ""
    company_website: str = ""
    # After-sales (R-7, issue 15).
    complete_after: str = "3wd"
    survey_after: str = "1wd"
    survey_reminder_after: str = "2wd"
    survey_editable_for: str = "24h"
    archive_dir: str | None = None
    retention: str = "3y"
    # The bot's @username for t.me links; asked of Telegram (getMe) at start when empty.
    bot_username: str | None = None
    inbox_lease_seconds: int = Field(default=60, ge=1, le=3600)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # Telegram Payments provider token (from @BotFather > Payments); without it bank cards are not charged.
    payment_provider_token: SecretStr | None = None
    # A delay longer than this (new expected time past the old) leads to a compensation offer.
    exception_delay_compensation_after: str = "48h"

    @field_validator("bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuses a token that cannot be a Telegram bot token."""
        if value is not None and not BOT_TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token (expected digits, ':', then letters)")
        return value

    @field_validator("telegram_api_base", "webhook_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        """Requires an absolute http(s) URL."""
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        """Accepts only the async drivers the storage layer supports."""
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(DATABASE_SCHEMES)}, got {scheme or value!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        """Requires a redis:// (or rediss://, unix://) URL."""
        if value is not None and value.split("://", 1)[0] not in REDIS_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(REDIS_SCHEMES)}")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: Any) -> Any:
        """Reads "1, 2" as [1, 2]."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        """Requires an IANA time zone name."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("default_language", mode="before")
    @classmethod
    def _lower_language(cls, value: Any) -> Any:
        """Accepts `ZH` as well as `zh`."""
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        """Accepts `info` as well as `INFO`."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Requires a Telegram-valid secret whenever a webhook is configured."""
        if value is None:
            if info.data.get("webhook_url"):
                raise ValueError("required when WEBHOOK_URL is set")
            return None
        if not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        """Requires an absolute path for the local route."""
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("sla_policy_file")
    @classmethod
    def _check_sla_policy_file(cls, value: str | None) -> str | None:
        """Loads the policy now so a bad file stops start-up naming the key inside it."""
        if value is not None:
            try:
                load_policy(value)
            except SlaPolicyError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("complete_after", "survey_after", "survey_reminder_after")
    @classmethod
    def _check_aftersales_duration(cls, value: str) -> str:
        """Requires a duration (30m, 2h, 3wd, 1w)."""
        Duration.parse(value)
        return value

    @field_validator("survey_editable_for")
    @classmethod
    def _check_editable_for(cls, value: str) -> str:
        """Requires a wall-clock duration (the answer locks that long after it was given)."""
        if Duration.parse(value).working_days:
            raise ValueError("must be wall-clock time such as 24h or 7d, not working days")
        return value

    @field_validator("retention")
    @classmethod
    def _check_retention(cls, value: str) -> str:
        """Requires a retention period (3y, 36m, 1095d)."""
        RetentionPeriod.parse(value)
        return value

    @field_validator("escalate_after")
    @classmethod
    def _check_escalate_after(cls, value: str) -> str:
        """Requires a wall-clock duration such as 30m or 2h."""
        duration = Duration.parse(value)
        if duration.working_days:
            raise ValueError("must be wall-clock time (e.g. 30m, 2h), not working days")
        return value

    @field_validator("holiday_country")
    @classmethod
    def _check_holiday_country(cls, value: str) -> str:
        """Requires a country the holidays package knows."""
        value = value.upper()
        if not supports(value):
            raise ValueError(f"no public-holiday calendar for {value!r}")
        return value

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: str) -> str:
        """Requires HH:MM-HH:MM with the opening before the closing."""
        parse_working_hours(value)
        return value

    @field_validator("large_order_threshold")
    @classmethod
    def _check_threshold(cls, value: str) -> str:
        """Requires an amount and a currency, e.g. 10000 CNY."""
        parse_threshold(value)
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_api_keys(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Requires `name:key` pairs whenever the platform API is served."""
        if value is None:
            if info.data.get("api_port"):
                raise ValueError("required when API_PORT is set (name:key pairs, comma-separated)")
            return None
        parse_api_keys(value.get_secret_value())
        return value

    @field_validator("api_webhooks")
    @classmethod
    def _check_api_webhooks(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Requires `name:url` pairs whose names are keys of API_KEYS."""
        if value is not None:
            keys = info.data.get("api_keys")
            names = frozenset(parse_api_keys(keys.get_secret_value())) if keys is not None else frozenset()
            parse_api_webhooks(value, names)
        return value

    @field_validator("bot_username")
    @classmethod
    def _check_bot_username(cls, value: str | None) -> str | None:
        """Accepts `@name` or `name` (5-32 letters, digits and underscores)."""
        if value is None:
            return None
        value = value.removeprefix("@")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", value):
            raise ValueError("must be the bot's Telegram username, e.g. OrderDeskBot")
        return value

    @property
    def webhooks(self) -> dict[str, str]:
        """The platforms' webhook URLs by API key name."""
        return parse_api_webhooks(self.api_webhooks)

    def aftersales(self) -> AftersalesSettings:
        """The after-sales settings (R-7)."""
        return AftersalesSettings(
            complete_after=Duration.parse(self.complete_after),
            survey_after=Duration.parse(self.survey_after),
            reminder_after=Duration.parse(self.survey_reminder_after),
            editable_for=Duration.parse(self.survey_editable_for).wall_time,
            archive_dir=self.archive_dir or None,
            retention=RetentionPeriod.parse(self.retention),
            timezone=self.timezone,
        )

    def exceptions(self) -> ExceptionSettings:
        """The exception settings (R-6.3, issue 14)."""
        return ExceptionSettings(
            compensate_after=Duration.parse(self.exception_delay_compensation_after).wall_time,
            timezone=self.timezone,
        )

    @property
    def escalation_delay(self) -> timedelta:
        """How long a breach may stay unacknowledged before it escalates."""
        return Duration.parse(self.escalate_after).wall_time

    @property
    def outbox_lease(self) -> timedelta:
        """How long a claimed outbox message stays reserved for the sender that claimed it."""
        return timedelta(seconds=self.outbox_lease_seconds)

    @property
    def inbox_lease(self) -> timedelta:
        """How long an instance holds a received update before another instance may take it over."""
        return timedelta(seconds=self.inbox_lease_seconds)

    @property
    def working_time(self) -> tuple[time, time]:
        """The company's daily opening and closing time."""
        return parse_working_hours(self.working_hours)

    @property
    def zone(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.timezone)

    def team_chats(self) -> dict[int, frozenset[Role]]:
        """Maps each configured team chat to the staff roles working in it."""
        return {
            chat_id: roles
            for key, roles in TEAM_CHAT_ROLES.items()
            if (chat_id := getattr(self, key)) is not None
        }


def parse_working_hours(value: str) -> tuple[time, time]:
    """Reads 09:00-18:00 as (09:00, 18:00)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if match is None:
        raise ValueError(f"{value!r} is not HH:MM-HH:MM, e.g. 09:00-18:00")
    try:
        opening = time(int(match[1]), int(match[2]))
        closing = time(int(match[3]), int(match[4]))
    except ValueError:
        raise ValueError(f"{value!r} has an hour or minute out of range") from None
    if opening >= closing:
        raise ValueError("the opening time must come before the closing time")
    return opening, closing


def load_settings(env_file: str | None = ".env", **overrides: Any) -> Settings:
    """Reads the settings, raising ConfigError with one line per bad key."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None


def describe_errors(error: ValidationError) -> list[str]:
    """Turns pydantic's errors into `Configuration error: KEY: reason` lines without the values' secrets."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        reason = item["msg"].removeprefix("Value error, ")
        lines.append(f"Configuration error: {key}: {reason}")
    return lines
