"""The sections of AppConfig: database, redis, security, vnpy, stream, strategy, risk..."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./redfire.db"
MIN_SECRET_LENGTH = 32


class DatabaseConfig(BaseModel):
    """Relational database: PostgreSQL (asyncpg) in production, SQLite (aiosqlite) embedded."""

    url: str = DEFAULT_DATABASE_URL
    # A fixed pool per process. Overflow connections are opened for a burst and closed as
    # soon as they are checked in again, so under sustained load each costs a connect (TLS
    # negotiation, authentication, a new server process) per request that borrows it.
    # Size it per worker and replica: max_connections / (replicas x workers), less headroom.
    pool_size: int = Field(default=20, ge=1, le=200)
    max_overflow: int = Field(default=0, ge=0, le=500)
    pool_timeout: float = Field(default=5.0, gt=0)
    # Off: asyncpg's ping is BEGIN, SELECT, ROLLBACK - three round trips per checkout. A dead
    # connection fails one statement instead, and SQLAlchemy then recycles the whole pool.
    pool_pre_ping: bool = False
    pool_recycle: int = Field(default=1800, ge=-1)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    echo: bool = False
    health_timeout: float = Field(default=1.0, gt=0)
    # Seconds between RedFire's analyze of its changed tables, only while the PostgreSQL
    # server's autovacuum is off (core/database/statistics.py); 0: never.
    analyze_interval: float = Field(default=10.0, ge=0)

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
    # A refresh token presented again this soon, from the same address, is a retry of the
    # same exchange (a lost answer, a double submit) and gets the same new pair back.
    refresh_retry_grace_seconds: float = Field(default=10.0, ge=0, le=60)
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    login_rate_limit: int = Field(default=5, ge=1)
    login_rate_window_seconds: int = Field(default=60, ge=1)
    # Every login attempt from one address, whatever the username (a spray of names).
    login_ip_rate_limit: int = Field(default=30, ge=1)
    login_ip_rate_window_seconds: int = Field(default=60, ge=1)
    register_rate_limit: int = Field(default=10, ge=1)
    register_rate_window_seconds: int = Field(default=3600, ge=1)
    # RFC 9106's "uniformly safe" Argon2id choice: t=3, p=4 lanes, m=64 MiB. The lanes run on
    # separate threads, so a login takes less wall time on a multi-core host for the same cost.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)
    # Hashes run at once (default: the CPU count, at least 2) and hashes allowed to wait for
    # one; beyond that a login, registration or password change is answered 503 `busy`.
    password_hash_workers: int | None = Field(default=None, ge=1, le=64)
    password_hash_queue: int = Field(default=32, ge=0, le=10_000)
    # API keys and webhook secrets are HMAC-SHA256 digests keyed with this pepper (derived
    # from SECRET_KEY when unset); changing it invalidates every key and webhook secret.
    api_key_pepper: SecretStr | None = None
    # Failed API key or webhook attempts from one address before 429 (brute force).
    api_key_failure_limit: int = Field(default=20, ge=1)
    api_key_failure_window_seconds: int = Field(default=60, ge=1)
    # A key's `last_used_at` is written at most this often per replica.
    api_key_last_used_interval_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Deliveries accepted per webhook per window (every replica counts together).
    webhook_rate_limit: int = Field(default=60, ge=1)
    webhook_rate_window_seconds: int = Field(default=60, ge=1)
    webhook_max_body_bytes: int = Field(default=16_384, ge=256, le=1_048_576)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("secret_key", "api_key_pepper")
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
    # The random walk's step deviation as a share of the price (0.0002: 2 bp a step); None:
    # PAPER's default. Every step moves at least one price tick whatever this is.
    volatility: Decimal | None = Field(default=None, gt=0, le=Decimal("0.1"))

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
    # sys.setswitchinterval, set when the engine starts (None: leave Python's 5 ms). vnpy's
    # event thread and the asyncio loop share the GIL; at 5 ms either can hold the other's
    # ticks back for 5 ms at a time, which alone breaks a 10 ms delivery target.
    gil_switch_interval: float | None = Field(default=0.0005, gt=0, le=0.1)


class ReplicasConfig(BaseModel):
    """Heartbeats: a replica silent for `departed_after_seconds` is gone, and its open orders
    and unfinished backtests are settled by one that is alive."""

    heartbeat_seconds: float = Field(default=10.0, gt=0)
    departed_after_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _check_margin(self) -> ReplicasConfig:
        # A replica that misses a couple of beats (a slow database, a long pause) is not gone.
        if self.departed_after_seconds < 3 * self.heartbeat_seconds:
            raise ValueError("departed_after_seconds must be at least 3 heartbeats")
        return self


class StreamConfig(BaseModel):
    """Live events: the cross-replica event bus and the WebSocket fan-out."""

    ws_queue_size: int = Field(default=1024, ge=1, le=1_000_000)
    ws_auth_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # uvicorn's ws_max_size: a larger frame is refused (1009) from its header, before it is
    # read. Client messages are at most 16,384 characters (stream/protocol.py).
    ws_max_message_bytes: int = Field(default=32_768, ge=1024, le=16 * 1024 * 1024)
    # Connections of one client address not yet authenticated, at once; more are closed 1008.
    ws_max_pending_per_client: int = Field(default=8, ge=1, le=10_000)
    # 0: publish every tick, conflating per symbol only while the publisher is behind.
    tick_publish_interval_seconds: float = Field(default=0.0, ge=0, le=60)
    # The `position` and `account` topics: at most one update per user this often (fills and
    # mark-to-market in between are merged into it).
    portfolio_interval_seconds: float = Field(default=1.0, ge=0.01, le=60)
    bus_outbox_size: int = Field(default=10_000, ge=1)
    bus_reconnect_max_seconds: float = Field(default=5.0, gt=0, le=300)


class StrategyConfig(BaseModel):
    """Strategy engine: ownership leases across replicas, and where strategy classes come from."""

    lease_seconds: float = Field(default=10.0, gt=0)
    renew_interval_seconds: float = Field(default=3.0, gt=0)
    resume_on_start: bool = True
    # Directories whose .py files define strategy classes (RedFire BaseStrategy or vnpy
    # CtaTemplate subclasses), imported at start-up: `STRATEGY__PATHS='["/srv/strategies"]'`.
    paths: list[Path] = Field(default_factory=list)
    # Load the classes that installed distributions name in the `redfire.strategies` group.
    entry_points: bool = True

    @field_validator("paths")
    @classmethod
    def _check_paths(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not path.is_dir():
                raise ValueError(f"{str(path)!r} is not a directory")
        return value


class BacktestConfig(BaseModel):
    """Backtests: how many run at once (each on a worker thread) and how large they may be."""

    max_concurrent: int = Field(default=2, ge=1, le=64)
    max_bars: int = Field(default=2_000_000, ge=1)
    max_stored_trades: int = Field(default=50_000, ge=0)
    # Queued or running backtests one user may have (each queued job holds its bars in memory).
    max_queued_per_user: int = Field(default=3, ge=1, le=1000)
    # A CSV upload's own body cap (MAX_BODY_BYTES does not apply): bars are limited by count.
    max_upload_bytes: int = Field(default=268_435_456, ge=1024)


class ResearchConfig(BaseModel):
    """Parameter optimisations: how large a sweep may be and the processes that run it."""

    # Worker processes of the local pool (each runs one combination at a time).
    workers: int = Field(default=2, ge=1, le=64)
    # Optimisations running at once on this replica (their combinations share the pool).
    max_concurrent: int = Field(default=1, ge=1, le=16)
    # Combinations one grid may have, and evaluations one genetic search may ask for.
    max_combinations: int = Field(default=1000, ge=1, le=1_000_000)
    # Values of all swept parameters together a genetic search may choose from.
    max_genetic_space: int = Field(default=1_000_000, ge=1)
    # Queued or running optimisations one user may have.
    max_queued_per_user: int = Field(default=2, ge=1, le=1000)
    # Where research jobs run: "procrastinate" (queued in PostgreSQL, run by `redfire worker`
    # processes) or "local" (a process pool inside the API). Unset: procrastinate on
    # PostgreSQL, local on SQLite (see AppConfig.research_engine).
    engine: Literal["local", "procrastinate"] | None = None
    # A worker writes its heartbeat this often; a worker silent for `stalled_after_seconds`
    # is gone, and a live worker queues its jobs again.
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    stalled_after_seconds: float = Field(default=30.0, gt=0, le=3600)
    # `redfire worker` serves its metrics on this port (GET /metrics, METRICS__TOKEN as the
    # API's); 0 serves none.
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    # CPU priority of research processes (`redfire worker` and its pool, the local pool):
    # "idle" (Linux SCHED_IDLE: they take only the CPU the order path and the database leave
    # idle on a shared machine), "low" (niceness 19) or "normal" (the API's).
    cpu_priority: Literal["idle", "low", "normal"] = "idle"


class MarketConfig(BaseModel):
    """Market history: one-minute bars recorded from every tick, imported, served, kept."""

    record_bars: bool = True
    # Raw ticks as well (one row per tick: far more rows than bars).
    record_ticks: bool = False
    # Finished bars wait in memory at most this long before one batch writes them.
    flush_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # A forming bar whose symbol has had no tick this long is written (a session's last bar).
    idle_close_seconds: float = Field(default=60.0, gt=0)
    # Bars kept in memory while the database is unreachable; the oldest are dropped beyond.
    max_pending_bars: int = Field(default=100_000, ge=100)
    # Delete bars (whole monthly partitions on PostgreSQL) older than this; 0 keeps them all.
    retention_days: int = Field(default=0, ge=0)
    tick_retention_days: int = Field(default=30, ge=0)
    # Monthly partitions created ahead of time on PostgreSQL (the current month and these).
    partitions_ahead_months: int = Field(default=2, ge=0, le=24)
    # POST /api/v1/market/bars/import's own body cap (MAX_BODY_BYTES does not apply to it).
    import_max_bytes: int = Field(default=1_073_741_824, ge=1024)


class RiskConfig(BaseModel):
    """Pre-trade risk limits (defaults; admins edit them at run time)."""

    max_order_quantity: Decimal = Field(default=Decimal(1000), gt=0)
    max_order_notional: Decimal = Field(default=Decimal(100_000_000), gt=0)
    max_open_orders: int = Field(default=200, ge=1)
    max_orders_per_second: int = Field(default=50, ge=1)
    price_band_pct: Decimal = Field(default=Decimal(10), gt=0)
    paper_initial_balance: Decimal = Field(default=Decimal(10_000_000), ge=0)
    account_currency: str = "CNY"
    # The share of a position's (or an opening order's) notional the paper account must hold:
    # 1 is fully funded, 0.1 trades ten times the account. Every replica needs the same one.
    margin_ratio: Decimal = Field(default=Decimal(1), gt=0, le=1, max_digits=10, decimal_places=8)
    # vt_symbol -> the currency a contract is quoted in, when not the account's (vnpy's
    # ContractData carries none): {"BTCUSDT.GLOBAL": "USDT"}. Its PnL, commissions, margin
    # and orders are converted at `fx_rates`, and its orders refused (422) without a rate.
    contract_currencies: dict[str, str] = Field(default_factory=dict)
    # currency -> the account's currency per unit: {"USDT": "7.1"}. Every replica the same.
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("contract_currencies", "fx_rates")
    @classmethod
    def _check_currency_codes(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            for code in (item,) if isinstance(item, str) else ():
                if not re.fullmatch(r"[A-Z0-9]{2,8}", code):
                    raise ValueError(f"{key}: {code!r} is not a currency code (2-8 of A-Z, 0-9)")
            if isinstance(item, Decimal):
                if not re.fullmatch(r"[A-Z0-9]{2,8}", key):
                    raise ValueError(f"{key!r} is not a currency code (2-8 of A-Z, 0-9)")
                if not (item.is_finite() and item > 0):
                    raise ValueError(f"{key}: a rate must be a positive number")
        return value


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
