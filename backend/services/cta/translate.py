"""RedFire's ticks, order updates and fills as the vnpy objects a CtaTemplate receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from vnpy.trader.constant import Direction, Exchange, Offset, Status
from vnpy.trader.constant import OrderType as VnpyOrderType
from vnpy.trader.object import OrderData, TickData, TradeData

from backend.domain.market import TickSnapshot
from backend.models.enums import OrderSide, OrderStatus

# The gateway name of the orders a live CTA strategy sees: its vt_orderids are `REDFIRE.<n>`.
LIVE_GATEWAY = "REDFIRE"

STATUSES: dict[OrderStatus, Status] = {
    OrderStatus.PENDING: Status.SUBMITTING,
    OrderStatus.SUBMITTED: Status.NOTTRADED,
    OrderStatus.PARTIALLY_FILLED: Status.PARTTRADED,
    OrderStatus.FILLED: Status.ALLTRADED,
    OrderStatus.CANCELLED: Status.CANCELLED,
    OrderStatus.REJECTED: Status.REJECTED,
}
_NEW_TICK = TickData.__new__
# How many recent ticks' TickData a symbol's translator keeps: a runner drains its backlog in
# turns of 256 events (runner.py), so the next runner on the symbol finds its ticks here.
# About 2.5 kB each: under a megabyte per symbol that CTA strategies trade.
TICKS_KEPT = 320
# Every TickData field a RedFire tick does not carry (one price level, no limits or OHLC).
_TICK_DEFAULTS: dict[str, object] = dict.fromkeys(
    (
        "last_volume", "limit_up", "limit_down", "open_price", "high_price", "low_price",
        "pre_close", "bid_price_2", "bid_price_3", "bid_price_4", "bid_price_5", "ask_price_2",
        "ask_price_3", "ask_price_4", "ask_price_5", "bid_volume_2", "bid_volume_3",
        "bid_volume_4", "bid_volume_5", "ask_volume_2", "ask_volume_3", "ask_volume_4",
        "ask_volume_5",
    ),
    0.0,
)  # fmt: skip


def side_of(direction: Direction) -> OrderSide:
    """LONG buys, SHORT sells (RedFire books net positions; the offset is kept for the strategy)."""
    return OrderSide.BUY if direction is Direction.LONG else OrderSide.SELL


@dataclass(slots=True)
class LocalOrder:
    """One limit order of a CTA strategy, as it sent it, and what RedFire made of it."""

    orderid: str
    direction: Direction
    offset: Offset
    price: float
    volume: float
    order_id: int | None = None
    client_order_id: str | None = None
    traded: float = 0.0
    status: Status = Status.SUBMITTING

    @property
    def vt_orderid(self) -> str:
        """What the strategy was handed by send_order."""
        return f"{LIVE_GATEWAY}.{self.orderid}"


class TickTranslator:
    """TickSnapshot -> TickData of one symbol, shared by every strategy on it.

    As vnpy's CtaEngine, the strategies on a symbol get the same TickData object for a tick:
    each tick is translated once (its attribute dict filled directly), and the last
    TICKS_KEPT translations are kept by the tick's identity for the strategies that get to it
    later (each runner drains its backlog in turns).
    """

    def __init__(self, vt_symbol: str) -> None:
        code, _, exchange = vt_symbol.rpartition(".")
        self.code = code
        self.exchange = Exchange(exchange)
        self.vt_symbol = vt_symbol
        self._made: dict[int, tuple[TickSnapshot, TickData]] = {}

    def __call__(self, tick: TickSnapshot) -> TickData:
        """The tick as vnpy's TickData (float prices)."""
        made = self._made.get(id(tick))
        if made is not None and made[0] is tick:
            return made[1]
        data = _NEW_TICK(TickData)
        data.__dict__ = {
            **_TICK_DEFAULTS,
            "gateway_name": tick.gateway, "symbol": self.code, "exchange": self.exchange,
            "datetime": tick.datetime, "name": "", "volume": float(tick.volume),
            "turnover": float(tick.turnover), "open_interest": float(tick.open_interest),
            "last_price": float(tick.last_price), "bid_price_1": float(tick.bid_price_1),
            "ask_price_1": float(tick.ask_price_1), "bid_volume_1": float(tick.bid_volume_1),
            "ask_volume_1": float(tick.ask_volume_1), "localtime": None,
            "vt_symbol": self.vt_symbol,
        }  # fmt: skip
        kept = self._made
        if len(kept) >= TICKS_KEPT:
            del kept[next(iter(kept))]
        kept[id(tick)] = (tick, data)
        return data


_TRANSLATORS: dict[str, TickTranslator] = {}


def tick_translator(vt_symbol: str) -> TickTranslator:
    """The process's translator of `vt_symbol` (created on first use)."""
    translator = _TRANSLATORS.get(vt_symbol)
    if translator is None:
        translator = _TRANSLATORS[vt_symbol] = TickTranslator(vt_symbol)
    return translator


def order_data(
    order: LocalOrder, symbol: str, exchange: Exchange, moment: datetime | None
) -> OrderData:
    """The strategy's order in its current state."""
    return OrderData(
        gateway_name=LIVE_GATEWAY,
        symbol=symbol,
        exchange=exchange,
        orderid=order.orderid,
        type=VnpyOrderType.LIMIT,
        direction=order.direction,
        offset=order.offset,
        price=order.price,
        volume=order.volume,
        traded=order.traded,
        status=order.status,
        datetime=moment,
        reference=order.client_order_id or "",
    )


def trade_data(
    order: LocalOrder,
    symbol: str,
    exchange: Exchange,
    *,
    tradeid: str,
    price: Decimal,
    quantity: Decimal,
    moment: datetime,
) -> TradeData:
    """One fill of the strategy's order."""
    return TradeData(
        gateway_name=LIVE_GATEWAY,
        symbol=symbol,
        exchange=exchange,
        orderid=order.orderid,
        tradeid=tradeid,
        direction=order.direction,
        offset=order.offset,
        price=float(price),
        volume=float(quantity),
        datetime=moment,
    )
