"""CtaLiveEngine: the live CtaEnginePort, what a CtaTemplate calls on its engine in RedFire.

Every call is synchronous, as vnpy's CtaTemplate expects, and does no I/O: `send_order` hands
back `REDFIRE.<n>` ids at once and queues the order, `cancel_order` queues the cancel, log
lines and variable events are queued, `sync_data` marks the variables to be saved. The host
(services/cta/host.py) carries the queue out, through RedFire's order service, after each
callback of the strategy. Local stop orders (`stop=True`) are kept here and triggered on ticks
exactly as vnpy's CtaEngine does (`check_stop_orders`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from vnpy.trader.constant import Direction, Interval, Offset
from vnpy.trader.object import BarData, TickData
from vnpy.trader.utility import round_to
from vnpy_ctastrategy.base import STOPORDER_PREFIX, EngineType, StopOrder, StopOrderStatus
from vnpy_ctastrategy.template import CtaTemplate

from backend.services.cta.port import CtaEngineBase
from backend.services.cta.translate import LocalOrder
from backend.services.strategy.errors import StrategyCallbackError

logger = structlog.get_logger(__name__)

# Blocking history reader: (vt_symbol, days, interval) -> bars, oldest first.
BarLoader = Callable[[str, int, Interval], list[BarData]]


class WarmUpError(StrategyCallbackError):
    """`load_bar` / `load_tick` found no history to warm the strategy up on."""


class CtaLiveEngine(CtaEngineBase):
    """One live CTA strategy's engine (each strategy has its own: nothing is shared)."""

    engine_type = EngineType.LIVE

    def __init__(
        self,
        *,
        strategy_id: int,
        vt_symbol: str,
        pricetick: float,
        size: float,
        min_volume: float,
        bars: BarLoader | None,
    ) -> None:
        super().__init__(pricetick=pricetick, size=size)
        self.strategy_id = strategy_id
        self.vt_symbol = vt_symbol
        self.min_volume = min_volume
        self.bars = bars
        self.order_count = 0
        self.stop_order_count = 0
        # vnpy's strategy_orderid_map: the strategy's active limit and stop order ids.
        self.active: set[str] = set()
        self.orders: dict[str, LocalOrder] = {}
        self.stop_orders: dict[str, StopOrder] = {}
        # What the host carries out after the callback: ("place" | "cancel", order).
        self.intents: list[tuple[str, LocalOrder]] = []
        self.events: list[dict[str, Any]] = []
        self.sync_requested = False

    @property
    def pending(self) -> bool:
        """Something for the host to do after the callback."""
        return bool(self.intents or self.events or self.sync_requested)

    # --- orders ---------------------------------------------------------------------------

    def send_order(
        self,
        strategy: CtaTemplate,
        direction: Direction,
        offset: Offset,
        price: float,
        volume: float,
        stop: bool,
        lock: bool,
        net: bool,
    ) -> list[str]:
        """Rounded to the contract (vnpy's CtaEngine.send_order); a local stop or a limit."""
        price = self.round_price(price)
        volume = round_to(volume, self.min_volume) if self.min_volume else volume
        if stop:
            return self._send_stop_order(strategy, direction, offset, price, volume, lock, net)
        return [self.send_limit_order(direction, offset, price, volume)]

    def send_limit_order(
        self, direction: Direction, offset: Offset, price: float, volume: float
    ) -> str:
        """Queue a limit order; its vt_orderid."""
        self.order_count += 1
        order = LocalOrder(f"{self.strategy_id}-{self.order_count}", direction, offset, price,
                           volume)  # fmt: skip
        self.orders[order.vt_orderid] = order
        self.active.add(order.vt_orderid)
        self.intents.append(("place", order))
        return order.vt_orderid

    def cancel_order(self, strategy: CtaTemplate, vt_orderid: str) -> None:
        """A stop order is cancelled here; a limit order's cancel is queued."""
        if vt_orderid.startswith(STOPORDER_PREFIX):
            self._cancel_stop_order(strategy, vt_orderid)
            return
        order = self.orders.get(vt_orderid)
        if order is not None and vt_orderid in self.active:
            self.intents.append(("cancel", order))

    def cancel_all(self, strategy: CtaTemplate) -> None:
        """Every active order and stop order of the strategy."""
        for vt_orderid in sorted(self.active):
            self.cancel_order(strategy, vt_orderid)

    def _send_stop_order(
        self,
        strategy: CtaTemplate,
        direction: Direction,
        offset: Offset,
        price: float,
        volume: float,
        lock: bool,
        net: bool,
    ) -> list[str]:
        self.stop_order_count += 1
        stop_orderid = f"{STOPORDER_PREFIX}.{self.stop_order_count}"
        stop_order = StopOrder(
            vt_symbol=self.vt_symbol, direction=direction, offset=offset, price=price,
            volume=volume, stop_orderid=stop_orderid, strategy_name=strategy.strategy_name,
            datetime=datetime.now(UTC), lock=lock, net=net,
        )  # fmt: skip
        self.stop_orders[stop_orderid] = stop_order
        self.active.add(stop_orderid)
        strategy.on_stop_order(stop_order)
        self._stop_order_event(stop_order)
        return [stop_orderid]

    def _cancel_stop_order(self, strategy: CtaTemplate, stop_orderid: str) -> None:
        stop_order = self.stop_orders.pop(stop_orderid, None)
        if stop_order is None:
            return
        self.active.discard(stop_orderid)
        stop_order.status = StopOrderStatus.CANCELLED
        strategy.on_stop_order(stop_order)
        self._stop_order_event(stop_order)

    def check_stop_orders(self, strategy: CtaTemplate, tick: TickData) -> None:
        """vnpy's CtaEngine.check_stop_order: a triggered stop becomes a marketable limit.

        The price is the limit up/down when the tick has one, else the fifth level as vnpy
        takes it; RedFire's ticks carry one level, so then the first level, then the last price.
        """
        if not self.stop_orders:
            return
        for stop_order in list(self.stop_orders.values()):
            long = stop_order.direction is Direction.LONG
            if long and tick.last_price >= stop_order.price:
                price = tick.limit_up or tick.ask_price_5 or tick.ask_price_1 or tick.last_price
            elif not long and tick.last_price <= stop_order.price:
                price = tick.limit_down or tick.bid_price_5 or tick.bid_price_1 or tick.last_price
            else:
                continue
            vt_orderid = self.send_limit_order(
                stop_order.direction, stop_order.offset, self.round_price(price), stop_order.volume
            )
            del self.stop_orders[stop_order.stop_orderid]
            self.active.discard(stop_order.stop_orderid)
            stop_order.status = StopOrderStatus.TRIGGERED
            stop_order.vt_orderids = [vt_orderid]
            strategy.on_stop_order(stop_order)
            self._stop_order_event(stop_order)

    # --- history --------------------------------------------------------------------------

    def load_bar(
        self,
        vt_symbol: str,
        days: int,
        interval: Interval,
        callback: Callable[[BarData], None],
        use_database: bool,
    ) -> list[BarData]:
        """The last `days` days of stored bars; WarmUpError when there are none."""
        bars = self.bars(vt_symbol, days, interval) if self.bars is not None else []
        if not bars:
            raise WarmUpError(
                f"load_bar({days}) found no stored {interval.value} bars of {vt_symbol} in the "
                f"last {days} days to warm up on: record or import bars first"
            )
        return bars

    def load_tick(
        self, vt_symbol: str, days: int, callback: Callable[[TickData], None]
    ) -> list[TickData]:
        """RedFire stores bars, not ticks: a strategy cannot warm up on ticks."""
        raise WarmUpError(
            f"load_tick({days}) has no history: RedFire stores bars, not ticks, of {vt_symbol}; "
            "warm up with load_bar"
        )

    # --- events and data ------------------------------------------------------------------

    def write_log(self, msg: str, strategy: CtaTemplate | None = None) -> None:
        """Into the log and, for the owner, onto the `strategy` topic."""
        super().write_log(msg, strategy)
        logger.info("cta_strategy_log", strategy_id=self.strategy_id, message=msg)
        self.events.append({"event": "log", "message": msg})

    def put_strategy_event(self, strategy: CtaTemplate) -> None:
        """The strategy's state, for the owner (the last one of a callback wins)."""
        self.events = [event for event in self.events if event["event"] != "variables"]
        self.events.append(
            {
                "event": "variables",
                "inited": strategy.inited,
                "trading": strategy.trading,
                "variables": synced_variables(strategy),
            }
        )

    def sync_strategy_data(self, strategy: CtaTemplate) -> None:
        """Save `pos` and the variables once the callback is done."""
        self.sync_requested = True

    def _stop_order_event(self, stop_order: StopOrder) -> None:
        self.events.append(
            {
                "event": "stop_order",
                "stop_orderid": stop_order.stop_orderid,
                "status": stop_order.status.name.lower(),
                "direction": stop_order.direction.name.lower(),
                "offset": stop_order.offset.name.lower(),
                "price": stop_order.price,
                "volume": stop_order.volume,
                "vt_orderids": list(stop_order.vt_orderids),
            }
        )


def plain(value: object) -> Any:
    """A variable's value as JSON can keep it (numpy numbers as Python's; the rest as text)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return plain(item())
    if isinstance(value, list | tuple):
        return [plain(element) for element in value]
    if isinstance(value, dict):
        return {str(key): plain(element) for key, element in value.items()}
    return str(value)


def synced_variables(strategy: CtaTemplate) -> dict[str, Any]:
    """What vnpy's sync_strategy_data keeps: the variables without `inited` and `trading`."""
    data = {name: plain(getattr(strategy, name, None)) for name in strategy.variables}
    data.pop("inited", None)
    data.pop("trading", None)
    return data
