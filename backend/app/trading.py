"""Trading components (vnpy engine, order service, event processor, risk) and their hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.core.messaging.port import Messaging
from backend.core.monitoring.health import HealthRegistry
from backend.services.market.paper_feed import PaperFeed
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.cancel_relay import CancelRelay
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.finality import OrderFinality
from backend.services.orders.intake import OrderIntake
from backend.services.orders.maintenance import ExpiredKeyPurger
from backend.services.orders.reconciliation import reconcile_open_orders, settle_open_orders
from backend.services.orders.risk import OrderRateLimiter, RiskSettingsStore
from backend.services.orders.service import OrderService
from backend.services.replicas.registry import ReplicaRegistry
from backend.services.vnpy.engine import RedFireVnPyEngine, vnpy_engine_from_config
from backend.services.vnpy.types import BridgeEvent


@dataclass
class TradingComponents:
    """Everything an order touches on its way to the market and back."""

    market: RedFireVnPyEngine
    orders: OrderService
    events: OrderEventProcessor
    risk: RiskSettingsStore
    accounts: AccountDefaults
    key_purger: ExpiredKeyPurger
    paper_feed: PaperFeed
    finality: OrderFinality


def build_trading(
    config: AppConfig, database: AsyncDatabaseManager, messaging: Messaging
) -> TradingComponents:
    """Create the trading components (no I/O)."""
    cache = messaging.cache
    # Replicas sharing a broker share one PAPER market: the paper feed brings it to each.
    market = vnpy_engine_from_config(config.vnpy, shared_paper_market=messaging.shared)
    accounts = AccountDefaults(
        currency=config.risk.account_currency,
        initial_balance=config.risk.paper_initial_balance,
        margin_ratio=config.risk.margin_ratio,
        contract_currencies=config.risk.contract_currencies,
        fx_rates=config.risk.fx_rates,
    )
    events = OrderEventProcessor(database, market, accounts)
    risk = RiskSettingsStore(cache, config.risk)
    intake = OrderIntake(
        database=database,
        market=market,
        risk=risk,
        rate_limiter=OrderRateLimiter(cache),
        buying_power=BuyingPower(market, accounts),
        events=events,
        replica=config.replica_id,
        default_gateway=config.vnpy.default_gateway,
    )
    relay = CancelRelay(messaging, replica=config.replica_id, cancel=market.request_cancel)
    orders = OrderService(intake=intake, events=events, relay=relay)
    market.bridge.subscribe(BridgeEvent.ORDER, events.on_event)
    market.bridge.subscribe(BridgeEvent.TRADE, events.on_event)
    tick_interval = config.vnpy.paper_tick_interval
    paper_feed = PaperFeed(
        messaging, market=market, replica=config.replica_id, interval=tick_interval
    )
    # Waiters for relayed cancels, on every replica, hear when an order here becomes final.
    finality = OrderFinality(messaging, events)
    events.add_order_listener(finality.on_order)
    purger = ExpiredKeyPurger(database)
    return TradingComponents(market, orders, events, risk, accounts, purger, paper_feed, finality)


def register_trading(
    lifecycle: ApplicationLifecycleManager,
    health: HealthRegistry,
    trading: TradingComponents,
    *,
    database: AsyncDatabaseManager,
    replicas: ReplicaRegistry,
) -> None:
    """Start order bookkeeping, then vnpy, then reconcile; stop in reverse."""
    replica = replicas.replica

    async def check_gateway() -> dict[str, Any]:
        if not trading.market.is_running:
            raise ConnectionError("vnpy engine not running")
        if disconnected := trading.market.disconnected_gateways:
            raise ConnectionError(f"gateways disconnected: {', '.join(disconnected)}")
        return {"gateways": trading.market.gateway_names}

    async def reconcile() -> None:
        await reconcile_open_orders(database, trading.market, trading.events, replica=replica)

    async def settle_departed(session: AsyncSession, departed: str) -> None:
        if disconnected := trading.market.disconnected_gateways:
            # A gateway still connecting may not know the orders yet: the next sweep.
            raise ConnectionError(f"gateways disconnected: {', '.join(disconnected)}")
        await settle_open_orders(
            session, trading.market, trading.events, owner=departed, replica=replica
        )

    health.register("gateway", check_gateway, timeout=0.5)
    # Before the order events, so it stops after them: the last final orders are announced.
    finality = trading.finality
    lifecycle.register("order_finality", start=finality.start, stop=finality.stop)
    lifecycle.register("order_events", start=trading.events.start, stop=trading.events.stop)
    lifecycle.register("vnpy", start=trading.market.start, stop=trading.market.stop)
    # Cancels of this replica's orders that reached another replica (stops before vnpy).
    relay = trading.orders.relay
    lifecycle.register("cancel_relay", start=relay.start, stop=relay.stop)
    feed = trading.paper_feed
    lifecycle.register("paper_feed", start=feed.start, stop=feed.stop)
    # Registered (and sweeping departed replicas) before orders are taken; a restart under
    # the same name waits here while another replica settles its orders.
    replicas.on_departure(settle_departed)
    lifecycle.register("replicas", start=replicas.start, stop=replicas.stop)
    # Registered after vnpy so it stops first: queued orders still reach the gateway.
    intake = trading.orders.intake
    lifecycle.register("order_intake", start=intake.start, stop=intake.stop)
    lifecycle.register("reconciliation", start=reconcile)
    purger = trading.key_purger
    lifecycle.register("idempotency_key_purge", start=purger.start, stop=purger.stop)
