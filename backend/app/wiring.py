"""Build the AppContainer and register every component's start and stop hooks, in order."""

from __future__ import annotations

from typing import Any

from backend.app.backtests import build_backtests, register_backtests
from backend.app.container import AppContainer
from backend.app.market_history import build_market_history, register_market_history
from backend.app.research import build_research, register_research
from backend.app.strategies import build_strategies, register_strategies
from backend.app.stream import build_stream, register_stream
from backend.app.trading import build_trading, register_trading
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.statistics import PlannerStatistics
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.messaging.factory import create_messaging
from backend.core.security import build_security
from backend.services.apikeys.guard import ApiKeyGuard
from backend.services.auth.access import AccessGuard
from backend.services.auth.revocations import RevocationStore
from backend.services.replicas.registry import ReplicaRegistry
from backend.services.users.bootstrap import ensure_first_admin


def build_container(config: AppConfig) -> AppContainer:
    """Create components (no I/O) and register their lifecycle hooks."""
    lifecycle = ApplicationLifecycleManager(default_timeout=config.hook_timeout_seconds)
    database = AsyncDatabaseManager(config.database)
    messaging = create_messaging(config.redis)
    cache = messaging.cache
    security = build_security(config, messaging)
    trading = build_trading(config, database, messaging)
    stream = build_stream(config.stream, messaging, trading, security.invalidations, database)
    history = build_market_history(config, database, cache, trading.market)
    strategies = build_strategies(
        config, database, messaging, trading, security.invalidations,
        history=history.history, publish=stream.publish_strategy_event,
    )  # fmt: skip
    backtests, backtest_queue = build_backtests(config, database)
    replicas = ReplicaRegistry(database, config.replicas, replica=config.replica_id)
    revocations = RevocationStore(
        database,
        cache,
        security.invalidations,
        session_lifetime=security.tokens.refresh_lifetime,
    )
    research, research_queue = build_research(config, database, strategies, history, stream)
    container = AppContainer(
        config=config,
        lifecycle=lifecycle,
        database=database,
        cache=cache,
        messaging=messaging,
        security=security,
        revocations=revocations,
        access=AccessGuard(security, cache, database, security.invalidations, revocations),
        api_keys=ApiKeyGuard(
            database,
            security.invalidations,
            security.digester,
            security.credential_failures,
            last_used_interval=config.security.api_key_last_used_interval_seconds,
        ),
        trading=trading,
        stream=stream,
        strategies=strategies,
        backtests=backtests,
        backtest_queue=backtest_queue,
        replicas=replicas,
        history=history,
        research=research,
        research_queue=research_queue,
    )

    async def check_database() -> dict[str, Any]:
        await database.ping()
        return {"backend": "sqlite" if config.database.is_sqlite else "postgresql"}

    async def check_cache() -> dict[str, Any]:
        await cache.ping()
        return {"backend": cache.backend}

    container.health.register(
        "database", check_database, critical=True, timeout=config.database.health_timeout
    )
    container.health.register("redis", check_cache, timeout=config.redis.health_timeout)

    lifecycle.register("database", start=database.ping, stop=database.dispose)
    statistics = PlannerStatistics(database, interval=config.database.analyze_interval)
    lifecycle.register("planner_statistics", start=statistics.start, stop=statistics.stop)
    lifecycle.register("cache", stop=messaging.close)
    invalidations = security.invalidations
    lifecycle.register("invalidations", start=invalidations.start, stop=invalidations.stop)
    lifecycle.register("revocations", start=revocations.start, stop=revocations.stop)
    lifecycle.register("passwords", stop=security.passwords.close)

    async def create_first_admin() -> None:
        await ensure_first_admin(config.admin, database, security.passwords)

    lifecycle.register("admin", start=create_first_admin)
    # Before trading: the bus and publisher run before vnpy delivers ticks, and stop after it.
    register_stream(lifecycle, stream)
    register_market_history(lifecycle, history)
    register_trading(lifecycle, container.health, trading, database=database, replicas=replicas)
    register_strategies(lifecycle, strategies)
    register_backtests(lifecycle, backtests, replicas, engine=config.research_engine)
    register_research(lifecycle, research, replicas, config=config, database=database)
    return container
