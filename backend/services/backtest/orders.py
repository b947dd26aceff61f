"""SimulatedOrders: the backtest's StrategyOrderGateway, filling orders as vnpy's engine does."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from backend.domain.market import OrderTicket
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.backtest.bars import BACKTEST_GATEWAY, BarSeries
from backend.services.backtest.events import BacktestOrder, BacktestTradeFill
from backend.services.strategy.ports import PlacedOrder

ZERO = Decimal(0)
StrategyEvent = BacktestOrder | BacktestTradeFill
_ROUNDED_CACHE_SIZE = 65_536
_NEW = tuple.__new__  # a named tuple from a tuple of its fields, with no Python frame
_MARKET, _LIMIT, _BUY = OrderType.MARKET, OrderType.LIMIT, OrderSide.BUY
_SUBMITTED, _FILLED = OrderStatus.SUBMITTED, OrderStatus.FILLED


class OrderRefusedError(ValueError):
    """An order the simulated exchange refuses outright (the strategy sees `rejected`)."""


class SimulatedOrder(NamedTuple):
    """An order waiting for a bar to cross it (`price`: the rounded limit or stop price)."""

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
        self.events: list[StrategyEvent] = []
        self.fills = Fills([], [], [], [], [])
        # The bar the strategy is seeing (set by the replay): the time of cancels and fills.
        self.bar_index = 0
        self.orders_placed = 0
        # Limit and stop prices already checked: their rounded price, None when on the tick.
        self._rounded: dict[Decimal | None, Decimal | None] = {}

    async def place_order(
        self,
        *,
        user_id: int,
        strategy_id: int,
        ticket: OrderTicket,
    ) -> PlacedOrder:
        """Accept the order (it fills on a later bar), or reject it when it makes no sense."""
        self.orders_placed = order_id = self.orders_placed + 1
        order_type, quantity, limit = ticket.order_type, ticket.quantity, ticket.price
        try:
            if order_type is _MARKET:
                limit = None
            else:
                # Strategies send the same prices again and again (the bars' shared Decimals).
                try:
                    rounded = self._rounded[limit]
                except (KeyError, TypeError):  # TypeError: None or a signalling NaN
                    rounded = self._round(order_type, limit)
                # None: already on the tick, the price itself (as sent: 3500.50 stays so).
                if rounded is not None:
                    limit = rounded
            if not quantity > ZERO:
                raise OrderRefusedError(f"quantity {quantity} is not positive")
        except OrderRefusedError as exc:
            return PlacedOrder(order_id, OrderStatus.REJECTED, str(exc))
        self.active[order_id] = _NEW(
            SimulatedOrder,
            (order_id, f"{BACKTEST_GATEWAY}.{order_id}", ticket.side, order_type, quantity,
             limit),
        )  # fmt: skip
        return _NEW(PlacedOrder, (order_id, _SUBMITTED, None, None))

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Cancel an order still waiting; the strategy hears of it after its callback."""
        order = self.active.pop(order_id, None)
        if order is not None:
            self.events.append(self._update(order, OrderStatus.CANCELLED, ZERO))

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """A backtest starts flat."""
        return ZERO

    def cross(self, index: int) -> None:
        """Fill every waiting order that bar `index` crosses (before the strategy sees the bar)."""
        bars = self.bars
        open_, high, low = bars.open[index], bars.high[index], bars.low[index]
        active = self.active
        for order in list(active.values()):
            order_id, _, side, order_type, _, price = order
            if order_type is _MARKET:
                fill = open_
            elif order_type is _LIMIT:
                assert price is not None
                if side is _BUY:
                    fill = min(price, open_) if low <= price else ZERO
                else:
                    fill = max(price, open_) if high >= price else ZERO
            else:
                assert price is not None
                if side is _BUY:
                    fill = max(price, open_) if high >= price else ZERO
                else:
                    fill = min(price, open_) if low <= price else ZERO
            if fill:
                del active[order_id]
                self._fill(order, fill, index)

    def _fill(self, order: SimulatedOrder, price: Decimal, index: int) -> None:
        order_id, vt_orderid, side, order_type, quantity, limit = order
        fills = self.fills
        fills.bar_index.append(index)
        fills.side.append(side)
        fills.price.append(price)
        fills.quantity.append(quantity)
        fills.order_id.append(order_id)
        bars = self.bars
        symbol, moment = bars.symbol, bars.datetimes[index]
        update = _NEW(
            BacktestOrder,
            (order_id, symbol, side, order_type, _FILLED, quantity, quantity, limit,
             bars.datetimes[self.bar_index], None),
        )  # fmt: skip
        trade = _NEW(
            BacktestTradeFill,
            (f"{BACKTEST_GATEWAY}.{len(fills.price)}", vt_orderid, symbol, BACKTEST_GATEWAY,
             side, price, quantity, price * quantity * self.size * self.rate, moment),
        )  # fmt: skip
        self.events += update, trade

    def _update(self, order: SimulatedOrder, status: OrderStatus, traded: Decimal) -> BacktestOrder:
        bars = self.bars
        return BacktestOrder(
            order.order_id, bars.symbol, order.side, order.order_type, status, order.quantity,
            traded, order.price, bars.datetimes[self.bar_index],
        )  # fmt: skip

    def _round(self, order_type: OrderType, price: Decimal | None) -> Decimal | None:
        if price is None or not price.is_finite() or price <= 0:
            raise OrderRefusedError(f"a {order_type.value} order needs a positive price")
        tick = self.pricetick
        rounded = None
        if tick and price % tick:
            rounded = (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick
        if len(self._rounded) >= _ROUNDED_CACHE_SIZE:
            self._rounded.clear()
        self._rounded[price] = rounded
        return rounded
