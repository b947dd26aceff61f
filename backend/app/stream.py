"""Stream components (event bus, publisher, WebSocket hub), their wiring and their hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.app.trading import TradingComponents
from backend.core.cache.invalidation import Invalidations
from backend.core.config.settings import StreamConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.messaging.port import Messaging
from backend.services.orders import queries
from backend.services.stream.bus import EventBus
from backend.services.stream.hub import StreamHub
from backend.services.stream.portfolio import PortfolioLoader, PortfolioSnapshot, PortfolioStream
from backend.services.stream.publisher import StreamPublisher
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.errors import EngineNotRunningError
from backend.services.vnpy.types import BridgeEvent


@dataclass
class StreamComponents:
    """Live events from this replica's gateways and services to every replica's clients."""

    bus: EventBus
    publisher: StreamPublisher
    hub: StreamHub
    portfolio: PortfolioStream

    def publish_strategy_event(self, user_id: int, data: dict[str, Any]) -> None:
        """Send `data` to the strategy owner's WebSocket clients, on any replica."""
        self.publisher.publish_strategy_event(user_id, data)

    def publish_optimization_event(self, user_id: int, data: dict[str, Any]) -> None:
        """Send an optimisation's progress to its owner's WebSocket clients, on any replica."""
        self.publisher.publish_optimization_event(user_id, data)


def create_bus(config: StreamConfig, messaging: Messaging) -> EventBus:
    """The bus on the messaging port chosen at start-up."""
    return EventBus(
        messaging,
        outbox_size=config.bus_outbox_size,
        reconnect_max_seconds=config.bus_reconnect_max_seconds,
    )


def _listed(market: RedFireVnPyEngine, symbol: str) -> bool:
    try:
        return market.get_contract(symbol) is not None
    except EngineNotRunningError:
        return False


def portfolio_loader(database: AsyncDatabaseManager, trading: TradingComponents) -> PortfolioLoader:
    """Reads a user's positions and account as `GET /positions` and `GET /account` answer."""
    market, accounts = trading.market, trading.accounts

    async def load(user_id: int) -> PortfolioSnapshot:
        async with database.session_factory() as session:
            positions = await queries.list_positions(session, user_id, market, accounts)
            account = await queries.account_summary(session, user_id, market, accounts)
        return PortfolioSnapshot(
            {position.symbol: position.model_dump(mode="json") for position in positions},
            account.model_dump(mode="json"),
        )

    return load


def build_stream(
    config: StreamConfig,
    messaging: Messaging,
    trading: TradingComponents,
    invalidations: Invalidations,
    database: AsyncDatabaseManager,
) -> StreamComponents:
    """Create the components and subscribe them to orders, trades and ticks (no I/O)."""
    market = trading.market
    bus = create_bus(config, messaging)
    tick_interval = config.tick_publish_interval_seconds
    publisher = StreamPublisher(bus, messaging.cache, tick_interval=tick_interval)
    hub = StreamHub(
        is_listed=lambda symbol: _listed(market, symbol),
        queue_size=config.ws_queue_size,
        auth_timeout=config.ws_auth_timeout_seconds,
        max_pending_per_client=config.ws_max_pending_per_client,
    )
    portfolio = PortfolioStream(
        portfolio_loader(database, trading), interval=config.portfolio_interval_seconds
    )
    hub.portfolio_listener = portfolio.on_connection
    bus.add_listener(hub.dispatch)
    bus.add_listener(portfolio.on_event)
    invalidations.add_listener(hub.on_invalidated)
    trading.events.add_order_listener(publisher.on_order)
    trading.events.add_rejection_listener(publisher.on_order)
    trading.events.add_trade_listener(publisher.on_trade)
    market.bridge.subscribe(BridgeEvent.TICK, publisher.on_tick)
    return StreamComponents(bus=bus, publisher=publisher, hub=hub, portfolio=portfolio)


def register_stream(lifecycle: ApplicationLifecycleManager, stream: StreamComponents) -> None:
    """Register before the vnpy engine: the bus runs before ticks arrive and stops after."""

    async def start_publishers() -> None:
        await stream.publisher.start()
        await stream.portfolio.start()

    async def stop_publishers() -> None:
        await stream.hub.stop()
        await stream.portfolio.stop()
        await stream.publisher.stop()

    lifecycle.register("event_bus", start=stream.bus.start, stop=stream.bus.stop)
    lifecycle.register("stream", start=start_publishers, stop=stop_publishers)
