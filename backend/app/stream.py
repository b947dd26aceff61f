"""Stream components (event bus, publisher, WebSocket hub), their wiring and their hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.app.trading import TradingComponents
from backend.core.cache.invalidation import Invalidations
from backend.core.cache.protocol import Cache
from backend.core.cache.redis_service import RedisCacheService
from backend.core.config.settings import StreamConfig
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.models.enums import OrderStatus
from backend.services.orders.events import OrderEventProcessor
from backend.services.stream.bus import (
    EventBus,
    Listener,
    MemoryEventBus,
    RedisEventBus,
    StreamEvent,
)
from backend.services.stream.hub import StreamHub
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

    def publish_strategy_event(self, user_id: int, data: dict[str, Any]) -> None:
        """Send `data` to the strategy owner's WebSocket clients, on any replica."""
        self.publisher.publish_strategy_event(user_id, data)


def create_bus(config: StreamConfig, cache: Cache) -> EventBus:
    """Redis pub/sub when the cache is Redis, otherwise in-process."""
    if isinstance(cache, RedisCacheService):
        return RedisEventBus(
            cache.client,
            cache.prefix,
            outbox_size=config.bus_outbox_size,
            reconnect_max_seconds=config.bus_reconnect_max_seconds,
        )
    return MemoryEventBus()


def _listed(market: RedFireVnPyEngine, symbol: str) -> bool:
    try:
        return market.get_contract(symbol) is not None
    except EngineNotRunningError:
        return False


def _release_cancel_waiters(events: OrderEventProcessor) -> Listener:
    """An order went final on any replica: a cancel relayed to its owner may wait here."""

    def on_event(event: StreamEvent) -> None:
        if event.topic == "order" and OrderStatus(event.data["status"]).is_final:
            events.release_waiters(int(event.data["id"]))

    return on_event


def build_stream(
    config: StreamConfig, cache: Cache, trading: TradingComponents, invalidations: Invalidations
) -> StreamComponents:
    """Create the components and subscribe them to orders, trades and ticks (no I/O)."""
    market = trading.market
    bus = create_bus(config, cache)
    publisher = StreamPublisher(bus, cache, tick_interval=config.tick_publish_interval_seconds)
    hub = StreamHub(
        is_listed=lambda symbol: _listed(market, symbol),
        queue_size=config.ws_queue_size,
        auth_timeout=config.ws_auth_timeout_seconds,
        max_pending_per_client=config.ws_max_pending_per_client,
    )
    bus.add_listener(hub.dispatch)
    bus.add_listener(_release_cancel_waiters(trading.events))
    invalidations.add_listener(hub.on_invalidated)
    trading.events.add_order_listener(publisher.on_order)
    trading.events.add_trade_listener(publisher.on_trade)
    market.bridge.subscribe(BridgeEvent.TICK, publisher.on_tick)
    return StreamComponents(bus=bus, publisher=publisher, hub=hub)


def register_stream(lifecycle: ApplicationLifecycleManager, stream: StreamComponents) -> None:
    """Register before the vnpy engine: the bus runs before ticks arrive and stops after."""

    async def stop_publisher() -> None:
        await stream.hub.stop()
        await stream.publisher.stop()

    lifecycle.register("event_bus", start=stream.bus.start, stop=stream.bus.stop)
    lifecycle.register("stream", start=stream.publisher.start, stop=stop_publisher)
