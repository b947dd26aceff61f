"""Translates vnpy events for the bridge, on vnpy's event thread, with gateway side data."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter
from vnpy.trader.constant import Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import OrderData, TickData, TradeData

from backend.core.monitoring.metrics import TICKS
from backend.services.vnpy.conversions import (
    ZERO,
    to_order_update,
    to_tick_snapshot,
    to_trade_fill,
)
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.types import OrderUpdate, TickSnapshot, TradeFill


class _TickCount:
    __slots__ = ("counter", "published", "seen")

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.seen = 0  # written by vnpy's event thread only
        self.published = 0  # written by publish_tick_counts only


class EventTranslator:
    """vnpy TickData/OrderData/TradeData -> TickSnapshot/OrderUpdate/TradeFill.

    Commission and reject reasons come from the PAPER gateway's side channels (vnpy's
    objects have no field for them); other gateways report a commission of 0 and no reason.
    """

    def __init__(self, gateways: Mapping[str, BaseGateway]) -> None:
        self._gateways = gateways
        self._tick_counts: dict[str, _TickCount] = {}

    def tick(self, tick: TickData) -> TickSnapshot:
        """Count the tick (see publish_tick_counts) and translate it."""
        count = self._tick_counts.get(tick.vt_symbol)
        if count is None:
            count = self._tick_counts[tick.vt_symbol] = _TickCount(TICKS.labels(tick.vt_symbol))
        count.seen += 1
        return to_tick_snapshot(tick)

    def publish_tick_counts(self) -> None:
        """Add the ticks counted since the last call to the tick metric (any one thread).

        A prometheus Counter.inc() takes a lock and cost as much as translating the tick, so
        tick() only bumps a plain int (written by vnpy's event thread alone) and the bridge
        calls this once per delivered batch.
        """
        for count in list(self._tick_counts.values()):
            seen = count.seen
            if seen != count.published:
                count.counter.inc(seen - count.published)
                count.published = seen

    def order(self, order: OrderData) -> OrderUpdate:
        """Translate an order event."""
        return self.order_update(order, self._gateways.get(order.gateway_name))

    def order_update(self, order: OrderData, gateway: BaseGateway | None) -> OrderUpdate:
        """Translate an order, with PAPER's reject reason when it rejected it."""
        reason = None
        if order.status == Status.REJECTED and isinstance(gateway, PaperGateway):
            reason = gateway.reject_reason(order.vt_orderid)
        return to_order_update(order, reason)

    def trade(self, trade: TradeData) -> TradeFill:
        """Translate a trade event, with PAPER's commission."""
        gateway = self._gateways.get(trade.gateway_name)
        commission = None
        if isinstance(gateway, PaperGateway):
            commission = gateway.commission_for(trade.vt_tradeid)
        return to_trade_fill(trade, ZERO if commission is None else commission)
