"""One PAPER market for every replica: the lease holder walks the prices, all of them match on them.

Each replica's PAPER gateway keeps its own book: the orders that replica routed. Were each
also to walk its own prices, three replicas behind a load balancer would quote three markets,
fill orders on prices the others never showed, and an admin's injected tick would reach one
of them. With Redis, the replica holding the `paper-market` lease steps the random walk every
`VNPY__PAPER_TICK_INTERVAL` and publishes the quotes; the others inject them into their books.
Injected ticks (POST /api/v1/market/ticks) are published as well, so every book sees them. If
the leader stops or dies, its lease lapses and another replica walks on from the last prices.
A replica that starts (a new pod in a rolling update) first takes the market's latest ticks
from the shared cache, so it never fills an order on its start-up prices.
Without Redis there is one process, and its gateway walks by itself: that process leads.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal

import structlog
from pydantic import ValidationError

from backend.core.messaging.port import Messaging, MessagingUnavailableError
from backend.core.monitoring.metrics import PAPER_MARKET_LEADER
from backend.schemas.market import TickRead
from backend.services.stream.publisher import tick_cache_key
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.errors import UnknownGatewayError
from backend.services.vnpy.paper_market import DEPTH_LEVELS, Level, Quote

logger = structlog.get_logger(__name__)

LEASE = "paper-market"
CHANNEL = "paper:ticks"


def inject(market: RedFireVnPyEngine, tick: TickRead) -> None:
    """Publish `tick` (its depth too) on this replica's PAPER gateway and match its book on it."""
    market.paper_gateway(tick.symbol).inject_tick(
        tick.symbol,
        last_price=tick.last_price,
        bid_price=tick.bid_price_1,
        ask_price=tick.ask_price_1,
        bid_volume=tick.bid_volume_1,
        ask_volume=tick.ask_volume_1,
        volume=tick.volume,
        moment=tick.datetime,
        bid_depth=_levels(tick, "bid"),
        ask_depth=_levels(tick, "ask"),
    )


def _levels(tick: TickRead, side: str) -> tuple[Level, ...]:
    """Levels 2 to 5 of one side that the tick shows (a price above 0), best first."""
    levels = []
    for level in range(2, DEPTH_LEVELS + 1):
        price: Decimal = getattr(tick, f"{side}_price_{level}")
        if price <= 0:
            break
        levels.append((price, getattr(tick, f"{side}_volume_{level}")))
    return tuple(levels)


def quote_tick(symbol: str, quote: Quote) -> TickRead:
    """A generated quote (with its depth) as the tick every replica injects."""
    depth: dict[str, Decimal] = {}
    for side, levels in (("bid", quote.bid_depth), ("ask", quote.ask_depth)):
        for level, (price, volume) in enumerate(levels, start=2):
            depth[f"{side}_price_{level}"] = price
            depth[f"{side}_volume_{level}"] = volume
    return TickRead.model_validate(
        {
            "symbol": symbol,
            "last_price": quote.last,
            "bid_price_1": quote.bid,
            "ask_price_1": quote.ask,
            "bid_volume_1": quote.bid_volume,
            "ask_volume_1": quote.ask_volume,
            "volume": quote.volume,
            "datetime": quote.moment,
            **depth,
        }
    )


class PaperFeed:
    """Ticks on one channel of the messaging port; the walk led by a lease.

    With nobody sharing the broker (one process), the gateway walks by itself (the engine is
    built with `shared_paper_market` off) and this process leads: nothing to catch up with,
    to hear or to walk.
    """

    def __init__(
        self, messaging: Messaging, *, market: RedFireVnPyEngine, replica: str, interval: float
    ) -> None:
        self.messaging = messaging
        self.cache = messaging.cache
        self.leases = messaging.leases
        self.market = market
        self.replica = replica
        self.interval = interval
        # Another replica takes the lead after three missed steps.
        self.lease_seconds = max(3 * interval, 1.0)
        self.origin = uuid.uuid4().hex
        self._walker: asyncio.Task[None] | None = None
        self._subscription = messaging.subscribe([CHANNEL], self._receive, name="paper-feed")

    @property
    def listening(self) -> asyncio.Event:
        """Set while no tick of the other replicas can be missed."""
        return self._subscription.listening

    async def publish(self, ticks: Sequence[TickRead]) -> None:
        """One message for the other replicas; a failure is logged (they miss these ticks)."""
        if not ticks:
            return
        message = json.dumps(
            {"origin": self.origin, "ticks": [tick.model_dump(mode="json") for tick in ticks]}
        )
        try:
            await self.messaging.publish(CHANNEL, message)
        except MessagingUnavailableError as exc:
            logger.warning("paper_feed_publish_failed", ticks=len(ticks), error=str(exc))

    async def start(self) -> None:
        """Listen, catch up with the market, and walk it (a tick interval above 0) when leading."""
        if not self.messaging.shared:
            self._lead_alone()
            return
        # Before listening, so nothing the feed brings is overwritten by an older saved tick.
        await self.catch_up()
        await self._subscription.start()
        if self.interval > 0 and self._walker is None:
            self._walker = asyncio.create_task(self._walk_forever(), name="paper-walk")

    async def stop(self) -> None:
        """Stop walking and listening; release the lead, so another replica walks on at once."""
        walker, self._walker = self._walker, None
        if walker is not None:
            walker.cancel()
            await asyncio.gather(walker, return_exceptions=True)
        await self._subscription.stop()
        PAPER_MARKET_LEADER.set(0)
        if not self.messaging.shared:
            return  # the market stops with the process
        try:
            await self.leases.release(LEASE, self.replica)
        except MessagingUnavailableError as exc:
            logger.warning("paper_feed_release_failed", error=str(exc))

    def _lead_alone(self) -> None:
        """The one process leads its PAPER market, if it has one."""
        try:
            self.market.paper_gateway()
        except UnknownGatewayError:
            return
        PAPER_MARKET_LEADER.set(1)

    async def catch_up(self) -> list[TickRead]:
        """Bring this replica's PAPER book to the market's latest ticks, as the replicas saved.

        A contract with none saved yet (a new deployment) announces its start-up quote.
        Returns the ticks injected or announced.
        """
        try:
            gateway = self.market.paper_gateway()
        except UnknownGatewayError:
            return []
        caught_up = []
        for contract in self.market.list_contracts():
            if contract.gateway != gateway.gateway_name:
                continue
            saved = await self.cache.get(tick_cache_key(contract.symbol))
            try:
                latest = None if saved is None else TickRead.model_validate(saved)
            except ValidationError:
                logger.warning("paper_feed_bad_saved_tick", symbol=contract.symbol)
                latest = None
            if latest is None:
                latest = quote_tick(contract.symbol, gateway.announce(contract.symbol))
            else:
                inject(self.market, latest)
            caught_up.append(latest)
        return caught_up

    async def step(self) -> list[TickRead]:
        """Walk the prices once if this replica leads, and publish them; the ticks walked."""
        leading = await self.leases.acquire(LEASE, self.replica, self.lease_seconds)
        PAPER_MARKET_LEADER.set(1 if leading else 0)
        if not leading:
            return []
        try:
            gateway = self.market.paper_gateway()
        except UnknownGatewayError:
            return []
        ticks = [quote_tick(symbol, quote) for symbol, quote in gateway.step()]
        await self.publish(ticks)
        return ticks

    async def _walk_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.step()
            except Exception as exc:  # Redis is away, say: try to lead again next step
                PAPER_MARKET_LEADER.set(0)
                logger.warning("paper_walk_failed", error=repr(exc))

    def _receive(self, text: str) -> None:
        try:
            message = json.loads(text)
            if message["origin"] == self.origin:
                return  # ours: injected here before it was published
            ticks = [TickRead.model_validate(tick) for tick in message["ticks"]]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            logger.warning("paper_feed_bad_message", error=repr(exc))
            return
        for tick in ticks:
            try:
                inject(self.market, tick)
            except (UnknownGatewayError, ValueError) as exc:  # not listed here
                logger.warning("paper_feed_tick_refused", symbol=tick.symbol, error=str(exc))
