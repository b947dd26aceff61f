"""AppConfig: every setting of RedFire, validated once at start-up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from backend.core.config.exposure import DocsConfig, HealthConfig, MetricsConfig
from backend.core.config.sections import (
    DEFAULT_DATABASE_URL,
    MIN_SECRET_LENGTH,
    AdminConfig,
    BacktestConfig,
    ContractConfig,
    DatabaseConfig,
    MarketConfig,
    RedisConfig,
    ReplicasConfig,
    ResearchConfig,
    RiskConfig,
    SecurityConfig,
    StrategyConfig,
    StreamConfig,
    VnpyConfig,
)

CONFIG_FILE_ENV = "REDFIRE_CONFIG_FILE"
# Secrets that appear in examples and must never run in production.
EXAMPLE_SECRETS = frozenset(
    {
        "change-me-to-a-random-string-of-at-least-32-characters",
        "change-me-to-a-random-metrics-token",
        "changeme",
        "secret",
    }
)

__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_DATABASE_URL",
    "EXAMPLE_SECRETS",
    "MIN_SECRET_LENGTH",
    "AdminConfig",
    "AppConfig",
    "BacktestConfig",
    "ContractConfig",
    "DatabaseConfig",
    "DocsConfig",
    "HealthConfig",
    "MarketConfig",
    "MetricsConfig",
    "RedisConfig",
    "ReplicasConfig",
    "ResearchConfig",
    "RiskConfig",
    "SecurityConfig",
    "StrategyConfig",
    "StreamConfig",
    "VnpyConfig",
]


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
    market: MarketConfig = Field(default_factory=MarketConfig)
    research: ResearchConfig = Field(default_factory=ResearchConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)
    replicas: ReplicasConfig = Field(default_factory=ReplicasConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    docs: DocsConfig = Field(default_factory=DocsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)

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

    @model_validator(mode="after")
    def _refuse_development_settings_in_production(self) -> AppConfig:
        if self.environment != "production":
            return self
        if self.debug:
            raise ValueError("debug: DEBUG=true cannot run in production")
        token = self.metrics.token
        if token is not None and token.get_secret_value() in EXAMPLE_SECRETS:
            raise ValueError("metrics.token: the example token cannot run in production")
        if "*" in self.security.cors_origins:
            raise ValueError(
                "security.cors_origins: '*' cannot run in production; list the origins "
                "of the front ends that may call the API"
            )
        return self

    @model_validator(mode="after")
    def _research_engine_needs_postgresql(self) -> AppConfig:
        if self.research.engine == "procrastinate" and self.database.is_sqlite:
            raise ValueError(
                "research.engine: procrastinate keeps its jobs in PostgreSQL; on SQLite use "
                "RESEARCH__ENGINE=local (the default there)"
            )
        return self

    @property
    def research_engine(self) -> Literal["local", "procrastinate"]:
        """Where research jobs run: procrastinate workers on PostgreSQL unless set to local."""
        if self.research.engine is not None:
            return self.research.engine
        return "local" if self.database.is_sqlite else "procrastinate"

    @property
    def is_production(self) -> bool:
        """True in production: what is not set is closed."""
        return self.environment == "production"

    @property
    def docs_enabled(self) -> bool:
        """Serve /docs, /redoc and /openapi.json (by default everywhere but production)."""
        return self.docs.enabled if self.docs.enabled is not None else not self.is_production

    @property
    def health_details(self) -> bool:
        """Show /health's details to anyone (by default everywhere but production)."""
        return self.health.details if self.health.details is not None else not self.is_production

    @property
    def metrics_open(self) -> bool:
        """/metrics answers without a token: no token set, outside production."""
        return self.metrics.token is None and not self.is_production

    def production_concerns(self) -> list[str]:
        """Settings that work but do not belong in production (empty outside production)."""
        if not self.is_production:
            return []
        concerns = []
        if self.database.is_sqlite:
            concerns.append("SQLite database: one process, no replicas (set DATABASE_URL)")
        if self.redis.url is None:
            concerns.append(
                "in-memory cache: rate limits, revocations and live events stay in this "
                "process (set REDIS_URL)"
            )
        if self.metrics.token is None:
            concerns.append("no METRICS__TOKEN: /metrics refuses every scrape")
        return concerns

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
