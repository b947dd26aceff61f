"""AppConfig: every setting of RedFire, validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

CONFIG_FILE_ENV = "REDFIRE_CONFIG_FILE"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./redfire.db"
# Secrets that appear in examples and must never run in production.
EXAMPLE_SECRETS = frozenset(
    {
        "change-me-to-a-random-string-of-at-least-32-characters",
        "changeme",
        "secret",
    }
)
MIN_SECRET_LENGTH = 32


# Twelve-factor flat names and the nested setting each one stands for.
FLAT_NAMES = {
    "database_url": ("database", "url"),
    "redis_url": ("redis", "url"),
    "secret_key": ("security", "secret_key"),
}


class FlatNamesSource(PydanticBaseSettingsSource):
    """`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY` as aliases of their nested settings.

    Placed right after the source it reads from, so the nested spelling from the same source
    wins and precedence between sources (env > .env > YAML) is kept.
    """

    def __init__(self, settings_cls: type[BaseSettings], env_vars: Mapping[str, str | None]):
        super().__init__(settings_cls)
        self._env_vars = {key.lower(): value for key, value in env_vars.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for flat, (section, key) in FLAT_NAMES.items():
            value = self._env_vars.get(flat)
            if value:
                values.setdefault(section, {})[key] = value
        return values


class DatabaseConfig(BaseModel):
    """Relational database: PostgreSQL (asyncpg) in production, SQLite (aiosqlite) embedded."""

    url: str = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=20, ge=0, le=500)
    pool_timeout: float = Field(default=5.0, gt=0)
    pool_pre_ping: bool = True
    pool_recycle: int = Field(default=1800, ge=-1)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    echo: bool = False
    health_timeout: float = Field(default=1.0, gt=0)

    @field_validator("url")
    @classmethod
    def _check_scheme(cls, value: str) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            return value
        scheme = value.split("://", 1)[0] if "://" in value else value[:20]
        raise ValueError(
            f"unsupported scheme {scheme!r}: use postgresql+asyncpg:// or sqlite+aiosqlite://"
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite database."""
        return self.url.startswith("sqlite")


class RedisConfig(BaseModel):
    """Redis for cache, pub/sub, leases and rate limits; None selects in-memory stand-ins."""

    url: str | None = None
    key_prefix: str = "redfire:"
    socket_timeout: float = Field(default=0.5, gt=0)
    health_timeout: float = Field(default=0.5, gt=0)
    max_connections: int = Field(default=100, ge=1)

    @field_validator("url")
    @classmethod
    def _check_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("unsupported scheme: use redis://, rediss:// or unix://")
        return value


class SecurityConfig(BaseModel):
    """Tokens, password hashing, CORS, proxies and rate limits."""

    secret_key: SecretStr | None = None
    algorithm: Literal["HS256"] = "HS256"
    access_token_expire_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_expire_days: int = Field(default=7, ge=1, le=90)
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    login_rate_limit: int = Field(default=5, ge=1)
    login_rate_window_seconds: int = Field(default=60, ge=1)
    register_rate_limit: int = Field(default=10, ge=1)
    register_rate_window_seconds: int = Field(default=3600, ge=1)
    # RFC 9106's "uniformly safe" Argon2id choice: t=3, p=4 lanes, m=64 MiB. The lanes run on
    # separate threads, so a login takes less wall time on a multi-core host for the same cost.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value


class ContractConfig(BaseModel):
    """A contract listed by the PAPER gateway."""

    symbol: str
    exchange: str
    name: str = ""
    price_tick: Decimal = Field(gt=0)
    size: Decimal = Field(default=Decimal(1), gt=0)
    min_volume: Decimal = Field(default=Decimal(1), gt=0)
    initial_price: Decimal = Field(gt=0)

    @property
    def vt_symbol(self) -> str:
        """vnpy's `symbol.EXCHANGE` identifier."""
        return f"{self.symbol}.{self.exchange}"


def _default_contracts() -> list[ContractConfig]:
    return [
        ContractConfig(
            symbol="IF2412",
            exchange="CFFEX",
            name="CSI 300 index future 2412",
            price_tick=Decimal("0.2"),
            size=Decimal(300),
            min_volume=Decimal(1),
            initial_price=Decimal("3500.0"),
        ),
        ContractConfig(
            symbol="rb2501",
            exchange="SHFE",
            name="Rebar 2501",
            price_tick=Decimal(1),
            size=Decimal(10),
            min_volume=Decimal(1),
            initial_price=Decimal(3300),
        ),
        ContractConfig(
            symbol="BTCUSDT",
            exchange="GLOBAL",
            name="Bitcoin / Tether (vnpy has no BINANCE exchange; GLOBAL stands in)",
            price_tick=Decimal("0.01"),
            size=Decimal(1),
            min_volume=Decimal("0.001"),
            initial_price=Decimal("60000.00"),
        ),
    ]


class VnpyConfig(BaseModel):
    """vnpy gateways; PAPER is built in, others are `module:Class`."""

    gateways: list[str] = Field(default_factory=lambda: ["PAPER"])
    gateway_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    default_gateway: str = "PAPER"
    paper_contracts: list[ContractConfig] = Field(default_factory=_default_contracts)
    paper_seed: int = 42
    # Seconds between generated ticks per contract; 0 disables the generator (tests inject ticks).
    paper_tick_interval: float = Field(default=1.0, ge=0)
    paper_commission_rate: Decimal = Field(default=Decimal("0.0001"), ge=0)
    event_timer_interval: int = Field(default=1, ge=1)
    event_queue_size: int = Field(default=100_000, ge=100)


class StreamConfig(BaseModel):
    """Live events: the cross-replica event bus and the WebSocket fan-out."""

    ws_queue_size: int = Field(default=1024, ge=1, le=1_000_000)
    ws_auth_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # 0: publish every tick, conflating per symbol only while the publisher is behind.
    tick_publish_interval_seconds: float = Field(default=0.0, ge=0, le=60)
    bus_outbox_size: int = Field(default=10_000, ge=1)
    bus_reconnect_max_seconds: float = Field(default=5.0, gt=0, le=300)


class StrategyConfig(BaseModel):
    """Strategy engine: ownership leases across replicas."""

    lease_seconds: float = Field(default=10.0, gt=0)
    renew_interval_seconds: float = Field(default=3.0, gt=0)
    resume_on_start: bool = True


class BacktestConfig(BaseModel):
    """Backtests: how many run at once (each on a worker thread) and how large they may be."""

    max_concurrent: int = Field(default=2, ge=1, le=64)
    max_bars: int = Field(default=2_000_000, ge=1)
    max_stored_trades: int = Field(default=50_000, ge=0)


class RiskConfig(BaseModel):
    """Pre-trade risk limits (defaults; admins edit them at run time)."""

    max_order_quantity: Decimal = Field(default=Decimal(1000), gt=0)
    max_order_notional: Decimal = Field(default=Decimal(100_000_000), gt=0)
    max_open_orders: int = Field(default=200, ge=1)
    max_orders_per_second: int = Field(default=50, ge=1)
    price_band_pct: Decimal = Field(default=Decimal(10), gt=0)
    paper_initial_balance: Decimal = Field(default=Decimal(10_000_000), ge=0)
    account_currency: str = "CNY"


class AdminConfig(BaseModel):
    """The first administrator, created at start-up when missing."""

    username: str | None = None
    password: SecretStr | None = None
    email: str = "admin@example.com"

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,50}", value):
            raise ValueError("must be 3-50 characters of letters, digits, '_', '.', '-'")
        return value

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if not 8 <= len(value.get_secret_value()) <= 128:
            raise ValueError("must be 8 to 128 characters")
        return value

    @model_validator(mode="after")
    def _password_with_username(self) -> AdminConfig:
        if self.username is not None and self.password is None:
            raise ValueError("ADMIN__PASSWORD is required with ADMIN__USERNAME")
        return self


class AppConfig(BaseSettings):
    """All of RedFire's configuration. Precedence: environment > .env > YAML > defaults."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Literal["development", "test", "production"] = "development"
    debug: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = True
    version: str = "0.1.0"
    # Stable across restarts on the same host or pod: orders left open are reconciled by it.
    replica_id: str = Field(
        default_factory=lambda: os.uname().nodename, min_length=1, max_length=64
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    hook_timeout_seconds: float = Field(default=30.0, gt=0)

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    vnpy: VnpyConfig = Field(default_factory=VnpyConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)

    generated_secret: bool = Field(default=False, exclude=True)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _require_secret(self) -> AppConfig:
        secret = self.security.secret_key
        if self.environment == "production":
            if secret is None:
                raise ValueError("security.secret_key: SECRET_KEY is required in production")
            if secret.get_secret_value() in EXAMPLE_SECRETS:
                raise ValueError("security.secret_key: the example secret cannot run in production")
        elif secret is None:
            self.security.secret_key = SecretStr(secrets.token_urlsafe(48))
            self.generated_secret = True
        return self

    @property
    def secret(self) -> str:
        """The signing key (always set after validation)."""
        assert self.security.secret_key is not None
        return self.security.secret_key.get_secret_value()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            FlatNamesSource(settings_cls, getattr(env_settings, "env_vars", {})),
            dotenv_settings,
            FlatNamesSource(settings_cls, getattr(dotenv_settings, "env_vars", {})),
        ]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_ENV}: no such file {config_file}")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return (*sources, file_secret_settings)
