"""Translates vnpy events for the bridge, on vnpy's event thread, with gateway side data."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter
from vnpy.trader.constant import Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import OrderData, TickData, TradeData

from backend.core.monitoring.metrics import TICKS
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.translate import (
    ZERO,
    to_order_update,
    to_tick_snapshot,
    to_trade_fill,
)
from backend.services.vnpy.types import OrderUpdate, TickSnapshot, TradeFill


class EventTranslator:
    """vnpy TickData/OrderData/TradeData -> TickSnapshot/OrderUpdate/TradeFill.

    Commission and reject reasons come from the PAPER gateway's side channels (vnpy's
    objects have no field for them); other gateways report a commission of 0 and no reason.
    """

    def __init__(self, gateways: Mapping[str, BaseGateway]) -> None:
        self._gateways = gateways
        self._tick_counters: dict[str, Counter] = {}

    def tick(self, tick: TickData) -> TickSnapshot:
        """Count the tick and translate it."""
        counter = self._tick_counters.get(tick.vt_symbol)
        if counter is None:
            counter = self._tick_counters[tick.vt_symbol] = TICKS.labels(tick.vt_symbol)
        counter.inc()
        return to_tick_snapshot(tick)

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
