"""The strategy engine, wired to the market's ticks and to the order path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from backend.app.trading import TradingComponents
from backend.core.cache.invalidation import Invalidations
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.messaging.port import Messaging
from backend.services.cta.host import CtaLiveServices
from backend.services.cta.state import CtaVariableStore
from backend.services.market.history import BarHistory
from backend.services.orders.strategy_link import StrategyOrders, link_strategy_events
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.registry import load_registry
from backend.services.vnpy.types import BridgeEvent


def build_strategies(
    config: AppConfig,
    database: AsyncDatabaseManager,
    messaging: Messaging,
    trading: TradingComponents,
    notices: Invalidations,
    *,
    history: BarHistory | None = None,
    publish: Callable[[int, dict[str, Any]], None] | None = None,
) -> StrategyEngine:
    """A StrategyEngine that trades through the order service and owns strategies by lease.

    vnpy CTA strategies warm up on `history`; every strategy's start, stop, errors, log lines
    and variables go to `publish` (the owner's WebSocket `strategy` topic).
    """
    market = trading.market
    engine = StrategyEngine(
        config=config.strategy,
        replica_id=config.replica_id,
        database=database,
        cache=messaging.cache,
        leases=messaging.leases,
        orders=StrategyOrders(database, trading.orders),
        registry=load_registry(config.strategy.paths, entry_points=config.strategy.entry_points),
        notices=notices,
        publish=publish,
        cta=CtaLiveServices(
            contracts=market.get_contract,
            variables=CtaVariableStore(database),
            history=history,
            publish=publish,
        ).host,
    )
    market.bridge.subscribe(BridgeEvent.TICK, engine.on_tick)
    link_strategy_events(trading.events, engine)
    return engine


def register_strategies(lifecycle: ApplicationLifecycleManager, engine: StrategyEngine) -> None:
    """Start after vnpy (strategies need ticks and the order path); stop before it.

    The strategy classes are read on a worker thread as the engine starts, so their imports
    (vnpy_ctastrategy, talib, strategy files) do not hold readiness up; a strategy resumed
    meanwhile waits for them.
    """
    loading: list[asyncio.Future[None]] = []

    async def start() -> None:
        loading.append(asyncio.ensure_future(asyncio.to_thread(engine.registry.preload)))
        await engine.start()

    async def stop() -> None:
        await engine.stop()
        await asyncio.gather(*loading, return_exceptions=True)

    lifecycle.register("strategies", start=start, stop=stop)
