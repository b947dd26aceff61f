"""SimulatedOrders: the backtest's StrategyOrderGateway, filling orders as vnpy's engine does."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from backend.domain.market import OrderTicket
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.backtest.bars import BACKTEST_GATEWAY, BarSeries
from backend.services.backtest.events import BacktestOrder, BacktestTradeFill
from backend.services.strategy.ports import PlacedOrder

ZERO = Decimal(0)
StrategyEvent = BacktestOrder | BacktestTradeFill


class OrderRefusedError(ValueError):
    """An order the simulated exchange refuses outright (the strategy sees `rejected`)."""


@dataclass(slots=True)
class SimulatedOrder:
    """An order waiting for a bar to cross it."""

    order_id: int
    vt_orderid: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class Fills:
    """Every fill of a run, in parallel lists (bar index, side, price, quantity, order id)."""

    bar_index: list[int]
    side: list[OrderSide]
    price: list[Decimal]
    quantity: list[Decimal]
    order_id: list[int]


class SimulatedOrders:
    """Orders are accepted at once and fill on a later bar, as vnpy's BacktestingEngine does.

    On each new bar, before the strategy sees it: a buy limit fills if low <= price, at
    min(price, open); a sell limit if high >= price, at max(price, open); a market order at the
    open; a buy stop triggers if high >= price, at max(price, open), a sell stop if
    low <= price, at min(price, open). Orders fill whole. Limit and stop prices are rounded to
    the price tick (as vnpy's `round_to`). The events a fill or cancel produces are queued in
    `events` and delivered by the replay after the strategy's callback returns, as live.
    """

    def __init__(self, bars: BarSeries, *, size: Decimal, rate: Decimal, pricetick: Decimal):
        self.bars = bars
        self.size = size
        self.rate = rate
        self.pricetick = pricetick
        self.active: dict[int, SimulatedOrder] = {}
        self.events: list[tuple[StrategyEvent, int | None]] = []
        self.fills = Fills([], [], [], [], [])
        # The bar the strategy is seeing (set by the replay): the time of cancels and fills.
        self.bar_index = 0
        self.orders_placed = 0

    async def place_order(
        self,
        *,
        user_id: int,
        strategy_id: int,
        ticket: OrderTicket,
    ) -> PlacedOrder:
        """Accept the order (it fills on a later bar), or reject it when it makes no sense."""
        self.orders_placed += 1
        order_id = self.orders_placed
        side, order_type, quantity = ticket.side, ticket.order_type, ticket.quantity
        try:
            limit = self._price(order_type, ticket.price)
            vt_orderid = f"{BACKTEST_GATEWAY}.{order_id}"
            order = SimulatedOrder(order_id, vt_orderid, side, order_type, quantity, limit)
            if not quantity > 0:
                raise OrderRefusedError(f"quantity {quantity} is not positive")
        except OrderRefusedError as exc:
            return PlacedOrder(order_id, OrderStatus.REJECTED, str(exc))
        self.active[order_id] = order
        return PlacedOrder(order_id, OrderStatus.SUBMITTED)

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Cancel an order still waiting; the strategy hears of it after its callback."""
        order = self.active.pop(order_id, None)
        if order is not None:
            self.events.append((self._update(order, OrderStatus.CANCELLED, ZERO), order_id))

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """A backtest starts flat."""
        return ZERO

    def cross(self, index: int) -> None:
        """Fill every waiting order that bar `index` crosses (before the strategy sees the bar)."""
        bars = self.bars
        open_, high, low = bars.open[index], bars.high[index], bars.low[index]
        for order in list(self.active.values()):
            price = order.price
            if order.order_type is OrderType.MARKET:
                fill = open_
            elif order.order_type is OrderType.LIMIT:
                assert price is not None
                if order.side is OrderSide.BUY:
                    fill = min(price, open_) if low <= price else ZERO
                else:
                    fill = max(price, open_) if high >= price else ZERO
            else:
                assert price is not None
                if order.side is OrderSide.BUY:
                    fill = max(price, open_) if high >= price else ZERO
                else:
                    fill = min(price, open_) if low <= price else ZERO
            if fill:
                del self.active[order.order_id]
                self._fill(order, fill, index)

    def _fill(self, order: SimulatedOrder, price: Decimal, index: int) -> None:
        fills = self.fills
        fills.bar_index.append(index)
        fills.side.append(order.side)
        fills.price.append(price)
        fills.quantity.append(order.quantity)
        fills.order_id.append(order.order_id)
        update = self._update(order, OrderStatus.FILLED, order.quantity)
        quantity = order.quantity
        trade = BacktestTradeFill(
            f"{BACKTEST_GATEWAY}.{len(fills.price)}", order.vt_orderid, self.bars.symbol,
            BACKTEST_GATEWAY, order.side, price, quantity,
            price * quantity * self.size * self.rate, self.bars.datetimes[index],
        )  # fmt: skip
        self.events.append((update, order.order_id))
        self.events.append((trade, None))

    def _update(self, order: SimulatedOrder, status: OrderStatus, traded: Decimal) -> BacktestOrder:
        return BacktestOrder(
            order.order_id, self.bars.symbol, order.side, order.order_type, status,
            order.quantity, traded, order.price, self.bars.datetimes[self.bar_index],
        )  # fmt: skip

    def _price(self, order_type: OrderType, price: Decimal | None) -> Decimal | None:
        if order_type is OrderType.MARKET:
            return None
        if price is None or not price.is_finite() or price <= 0:
            raise OrderRefusedError(f"a {order_type.value} order needs a positive price")
        tick = self.pricetick
        if tick and price % tick:
            price = (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick
        return price
