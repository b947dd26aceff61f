"""Pre-trade risk: limits shared by every replica, the kill switch, and the checks themselves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.cache.memory import MemoryCache
from backend.core.cache.protocol import Cache
from backend.core.config.settings import RiskConfig
from backend.core.database.unit_of_work import UnitOfWork
from backend.core.database.upsert import conflict_insert
from backend.core.monitoring.metrics import TRADING_HALTED
from backend.domain.market import ContractInfo, TickSnapshot
from backend.models.control import RiskSettings
from backend.models.enums import OrderSide, OrderType
from backend.schemas.orders import OrderCreate

SETTINGS_ID = 1
SETTINGS_CACHE_KEY = "risk:settings"
SETTINGS_CACHE_TTL = 30.0
BAND_PLACES = Decimal("0.0001")
LIMIT_FIELDS = (
    "max_order_quantity",
    "max_order_notional",
    "max_open_orders",
    "max_orders_per_second",
    "price_band_pct",
)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """A snapshot of the limits and the kill switch."""

    max_order_quantity: Decimal
    max_order_notional: Decimal
    max_open_orders: int
    max_orders_per_second: int
    price_band_pct: Decimal
    trading_halted: bool
    halted_reason: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (decimals as strings) for the cache and the API."""
        return {
            "max_order_quantity": str(self.max_order_quantity),
            "max_order_notional": str(self.max_order_notional),
            "max_open_orders": self.max_open_orders,
            "max_orders_per_second": self.max_orders_per_second,
            "price_band_pct": str(self.price_band_pct),
            "trading_halted": self.trading_halted,
            "halted_reason": self.halted_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RiskLimits:
        """Inverse of to_json."""
        return cls(
            max_order_quantity=Decimal(data["max_order_quantity"]),
            max_order_notional=Decimal(data["max_order_notional"]),
            max_open_orders=int(data["max_open_orders"]),
            max_orders_per_second=int(data["max_orders_per_second"]),
            price_band_pct=Decimal(data["price_band_pct"]),
            trading_halted=bool(data["trading_halted"]),
            halted_reason=data.get("halted_reason"),
        )

    @classmethod
    def from_row(cls, row: RiskSettings) -> RiskLimits:
        """From the database row."""
        return cls(
            **{name: getattr(row, name) for name in LIMIT_FIELDS},
            trading_halted=row.trading_halted,
            halted_reason=row.halted_reason,
        )


class RiskSettingsStore:
    """The limits and kill switch: the database row, and a copy in the shared cache."""

    def __init__(self, cache: Cache, defaults: RiskConfig) -> None:
        self.cache = cache
        self.defaults = defaults

    async def _row(self, session: AsyncSession) -> RiskSettings:
        row = await session.get(RiskSettings, SETTINGS_ID, with_for_update=True)
        if row is None:
            # Concurrent first orders (on any replica) race to create the row: one insert wins.
            values = {name: getattr(self.defaults, name) for name in LIMIT_FIELDS}
            await session.execute(
                conflict_insert(session, RiskSettings)
                .values(id=SETTINGS_ID, trading_halted=False, **values)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            row = await session.get(
                RiskSettings, SETTINGS_ID, with_for_update=True, populate_existing=True
            )
            assert row is not None
        return row

    async def cached(self) -> RiskLimits | None:
        """The limits as the shared cache holds them, or None when it holds none.

        A guess only (booking counts order rates with it while it reads the committed limits):
        a change committed while Redis was unreachable is missing from it until it is
        refilled.
        """
        cached = await self.cache.get(SETTINGS_CACHE_KEY)
        return None if cached is None else RiskLimits.from_json(cached)

    async def remember(self, limits: RiskLimits) -> None:
        """Put the limits as committed in the shared cache."""
        await self.cache.set(SETTINGS_CACHE_KEY, limits.to_json(), SETTINGS_CACHE_TTL)

    async def load(self, session: AsyncSession) -> RiskLimits:
        """The limits as stored (the row is created on first use); refills the cache.

        The database is the one source of truth: the cache may miss a write made while
        Redis was unreachable, so an answer about the limits never comes from it.
        """
        row = await session.get(RiskSettings, SETTINGS_ID, populate_existing=True)
        if row is None:
            row = await self._row(session)
        limits = RiskLimits.from_row(row)
        await self.remember(limits)
        return limits

    async def update(self, work: UnitOfWork, **values: Any) -> RiskLimits:
        """Change limits or the kill switch; every replica sees it on its next order once
        `work` commits (the shared cache and the gauge follow the commit)."""
        session = work.session
        row = await self._row(session)
        for name, value in values.items():
            setattr(row, name, value)
        await session.flush()
        # As stored (decimals at the column's 8 places), for the answer and every replica.
        await session.refresh(row)
        limits = RiskLimits.from_row(row)

        async def publish() -> None:
            # Only after the commit: a replica refilling the cache must read the new row.
            await self.cache.set(SETTINGS_CACHE_KEY, limits.to_json(), SETTINGS_CACHE_TTL)
            TRADING_HALTED.set(1 if limits.trading_halted else 0)

        work.after_commit(publish)
        return limits


class OrderRateLimiter:
    """Orders per second per user, counted in the shared cache (local fallback without it)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._local = MemoryCache(max_entries=10_000)

    async def hit(self, user_id: int, orders: int = 1) -> int:
        """Count `orders` orders for this second and return the count so far."""
        key = f"risk:rate:{user_id}:{int(time.time())}"
        count = await self.cache.incr(key, ttl=2, amount=orders)
        if count is None:
            count = await self._local.incr(key, ttl=2, amount=orders)
        return count or orders


def last_price(tick: TickSnapshot | None) -> Decimal | None:
    """The market's last traded price, or None before the first trade."""
    return tick.last_price if tick is not None and tick.last_price > 0 else None


def valuation_price(request: OrderCreate, tick: TickSnapshot | None) -> Decimal | None:
    """The price an order's notional is measured at (None: unknown, no trade yet).

    A limit at its price, a market order at the last price, a stop at the worse of its stop
    and the last price: a stop already through the market trades at once at the market (a buy
    stop at 0.2 is a market buy), one further away trades at its stop or beyond. A stop-limit
    trades at its limit price or better.
    """
    last = last_price(tick)
    if request.order_type is OrderType.MARKET:
        return last
    assert request.price is not None  # validated: limit and stop orders carry one
    if request.limit_price is not None:
        return request.limit_price
    if request.order_type is OrderType.STOP and last is not None:
        return max(request.price, last)
    return request.price


def triggers_at_once(request: OrderCreate, tick: TickSnapshot | None) -> bool:
    """A stop the market is already through: the gateway trades it as a market order at once.

    The PAPER market's rule (vnpy's): a buy stop triggers when the ask reaches it, a sell stop
    when the bid does; the last price stands in for a side not quoted.
    """
    if request.order_type is not OrderType.STOP or tick is None:
        return False
    assert request.price is not None
    if request.side is OrderSide.BUY:
        touch = tick.ask_price_1 if tick.ask_price_1 > 0 else tick.last_price
        return touch > 0 and touch >= request.price
    touch = tick.bid_price_1 if tick.bid_price_1 > 0 else tick.last_price
    return touch > 0 and touch <= request.price


@dataclass(frozen=True, slots=True)
class RiskBreach:
    """The rule an order breaks, its limit and the order's value under that rule."""

    rule: str
    limit: Decimal | None = None
    value: Decimal | None = None

    def detail(self) -> dict[str, str | None]:
        """The `reject_detail` the API shows: decimals as plain strings."""
        return {
            "rule": self.rule,
            "limit": None if self.limit is None else _plain(self.limit),
            "value": None if self.value is None else _plain(self.value),
        }


def _plain(value: Decimal) -> str:
    """Digits without trailing zeros or an exponent: 1000, 0.5, 10.25."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def static_rejection(
    limits: RiskLimits, request: OrderCreate, contract: ContractInfo, tick: TickSnapshot | None
) -> RiskBreach | None:
    """The first rule the order breaks that needs no database, or None.

    Limit orders and stops that rest (not yet triggered) must lie within the price band around
    the last price; a stop that triggers at once is a market order, which has no band.
    """
    if limits.trading_halted:
        return RiskBreach("trading_halted")
    if request.quantity > limits.max_order_quantity:
        return RiskBreach("max_order_quantity", limits.max_order_quantity, request.quantity)
    price = valuation_price(request, tick)
    if price is not None:
        notional = request.quantity * price * contract.size
        if notional > limits.max_order_notional:
            return RiskBreach("max_order_notional", limits.max_order_notional, notional)
    last = last_price(tick)
    if last is not None:
        for banded in _resting_prices(request, tick):
            deviation = abs(banded - last) * 100 / last
            if deviation > limits.price_band_pct:
                # Percent of the last price, to the 4 places a person reads (never rounded under).
                shown = deviation.quantize(BAND_PLACES, rounding=ROUND_UP)
                return RiskBreach("price_band", limits.price_band_pct, shown)
    return None


def _resting_prices(request: OrderCreate, tick: TickSnapshot | None) -> list[Decimal]:
    """The prices an order may rest at, which the band holds: a limit's, a stop's trigger
    while the market is not through it, a stop-limit's limit."""
    if request.order_type is OrderType.LIMIT:
        assert request.price is not None
        return [request.price]
    if request.order_type is not OrderType.STOP:
        return []
    assert request.price is not None
    prices = [] if triggers_at_once(request, tick) else [request.price]
    if request.limit_price is not None:
        prices.append(request.limit_price)
    return prices
