"""CtaStrategyHost: a vnpy CtaTemplate subclass run live by RedFire's strategy engine.

The host is a BaseStrategy, so the StrategyEngine runs it like any strategy (its runner feeds
it ticks, order updates and fills one at a time; its lease decides which replica runs it). It
gives the CtaTemplate a CtaLiveEngine (services/cta/live.py) and, after each callback, carries
out what the strategy asked for: orders and cancels through the order service as the
strategy's owner (every risk check, limit and the strategy's `strategy_id`), its variables
saved, its log lines and variables published on the WebSocket `strategy` topic.

As vnpy's CtaEngine: `on_init` runs (on a worker thread, so `load_bar` can read stored bars),
then the synced variables (`pos` among them) are restored, then `inited`; `on_start`, then
`trading`. Stop orders are checked on every tick before `on_tick`. A fill moves `pos` before
`on_trade`, then the variables are synced. A callback that raises is the strategy's error:
the runner stops it and `last_error` says which callback raised what.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel
from vnpy.trader.constant import Direction, Interval, Offset, Status
from vnpy.trader.object import BarData
from vnpy_ctastrategy.template import CtaTemplate

from backend.core.errors import DomainValidationError
from backend.domain.market import ContractLookup, OrderState, TickSnapshot, TradeFill
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.cta.history import exchange_problem
from backend.services.cta.live import CtaLiveEngine, WarmUpError, synced_variables
from backend.services.cta.state import CtaVariableStore
from backend.services.cta.translate import (
    STATUSES,
    LocalOrder,
    TickTranslator,
    order_data,
    side_of,
    tick_translator,
    trade_data,
)
from backend.services.market.history import VNPY_INTERVALS, BarHistory, to_bar_data
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.classes import StrategyClassEntry
from backend.services.strategy.errors import StrategyCallbackError, error_message
from backend.services.strategy.ports import StrategyOrderGateway
from backend.services.strategy.runner import StrategyRecord

# How long `load_bar` waits for the stored bars.
WARM_UP_TIMEOUT = 120.0
_ACTIVE = frozenset({Status.SUBMITTING, Status.NOTTRADED, Status.PARTTRADED})


@dataclass(frozen=True)
class CtaLiveServices:
    """What live CTA strategies need beyond the order path."""

    contracts: ContractLookup
    variables: CtaVariableStore
    history: BarHistory | None = None
    # The owner's WebSocket `strategy` topic: (user_id, data).
    publish: Callable[[int, dict[str, Any]], None] | None = None

    def host(
        self,
        entry: StrategyClassEntry,
        record: StrategyRecord,
        parameters: BaseModel,
        orders: StrategyOrderGateway,
    ) -> CtaStrategyHost:
        """The StrategyEngine's HostFactory for vnpy CTA classes."""
        cta_class = entry.strategy_class
        assert isinstance(cta_class, type)
        assert issubclass(cta_class, CtaTemplate)
        return CtaStrategyHost(
            record.id,
            parameters,
            user_id=record.user_id,
            symbol=record.symbol,
            orders=orders,
            cta_class=cta_class,
            name=record.name,
            services=self,
        )


class CtaStrategyHost(BaseStrategy):
    """One CtaTemplate instance, live, on its own CtaLiveEngine."""

    parameters_model: ClassVar[type[BaseModel]] = BaseModel
    description: ClassVar[str] = "a vnpy CTA strategy, live"

    def __init__(
        self,
        strategy_id: int,
        config: BaseModel,
        *,
        user_id: int,
        symbol: str,
        orders: StrategyOrderGateway,
        cta_class: type[CtaTemplate],
        name: str,
        services: CtaLiveServices,
    ) -> None:
        super().__init__(strategy_id, config, user_id=user_id, symbol=symbol, orders=orders)
        self.cta_class = cta_class
        self.name = name
        self.services = services
        self.failed = False
        self._engine: CtaLiveEngine | None = None
        self._cta: CtaTemplate | None = None
        self._translate: TickTranslator | None = None
        self._by_order_id: dict[int, LocalOrder] = {}
        self._by_client_id: dict[str, LocalOrder] = {}
        self._tradeids: set[str] = set()

    @property
    def cta(self) -> CtaTemplate:
        """The strategy instance (after initialize)."""
        assert self._cta is not None
        return self._cta

    @property
    def engine(self) -> CtaLiveEngine:
        """Its engine (after initialize)."""
        assert self._engine is not None
        return self._engine

    # --- lifecycle ------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Build the strategy, warm it up (on_init), restore its synced variables."""
        problem = exchange_problem(self.symbol)
        if problem is not None:
            raise StrategyCallbackError(problem)
        contract = self.services.contracts(self.symbol)
        if contract is None:
            raise StrategyCallbackError(f"{self.symbol} is not a listed contract")
        await super().initialize()
        self._translate = tick_translator(self.symbol)
        self._engine = CtaLiveEngine(
            strategy_id=self.strategy_id,
            vt_symbol=self.symbol,
            pricetick=float(contract.price_tick),
            size=float(contract.size),
            min_volume=float(contract.min_volume),
            bars=self._bar_loader(),
        )
        setting = self.config.model_dump()
        self._cta = self.cta_class(self._engine, self.name, self.symbol, setting)
        saved = await self.services.variables.load(self.strategy_id)
        await asyncio.to_thread(self._call, "on_init")
        cta = self.cta
        for name in cta.variables:
            value = saved.get(name)
            if value is not None and name not in ("inited", "trading"):
                setattr(cta, name, value)
        cta.inited = True
        self.engine.put_strategy_event(cta)
        await self._settle()

    async def start(self) -> None:
        """on_start, then trading."""
        self._call("on_start")
        self.cta.trading = True
        self.engine.put_strategy_event(self.cta)
        await super().start()
        await self._settle()

    async def stop(self) -> None:
        """on_stop, trading off, every order and stop order cancelled, variables synced."""
        cta, engine = self._cta, self._engine
        if cta is not None and engine is not None and not self.failed:
            try:
                self._call("on_stop")
            except StrategyCallbackError:
                self.logger.warning("on_stop raised", exc_info=True)
            cta.trading = False
            engine.cancel_all(cta)
            engine.sync_strategy_data(cta)
            engine.put_strategy_event(cta)
            try:
                await self._settle()
            except Exception:
                self.logger.warning("stop: orders or variables not settled", exc_info=True)
        await super().stop()

    # --- events from the runner -----------------------------------------------------------

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Stop orders first, then on_tick (once inited), as vnpy's CtaEngine."""
        assert self._translate is not None
        data = self._translate(tick)
        engine, cta = self.engine, self.cta
        try:
            engine.check_stop_orders(cta, data)
            if cta.inited:
                cta.on_tick(data)
        except Exception as exc:
            raise self._failure("on_tick", exc) from exc
        if engine.pending:
            await self._settle()

    async def on_order(self, order: OrderState) -> None:
        """vnpy OrderData of the strategy's order, when its status or traded volume moved."""
        local = self._by_order_id.get(order.id)
        if local is None:
            return
        status, traded = STATUSES[order.status], float(order.filled_quantity)
        if status is local.status and traded == local.traded:
            return
        local.status, local.traded = status, traded
        await self._order_changed(local, order.updated_at)

    async def on_trade(self, fill: TradeFill) -> None:
        """pos moves, then on_trade, then the variables are synced (vnpy's order)."""
        if fill.vt_tradeid in self._tradeids:
            return
        self._tradeids.add(fill.vt_tradeid)
        order = self._by_client_id.get(fill.vt_orderid)
        if order is None:  # placed before this run (a restart or a takeover)
            direction = Direction.LONG if fill.side is OrderSide.BUY else Direction.SHORT
            order = LocalOrder(fill.vt_orderid, direction, Offset.NONE, float(fill.price),
                               float(fill.quantity))  # fmt: skip
        cta, engine = self.cta, self.engine
        volume = float(fill.quantity)
        cta.pos += volume if fill.side is OrderSide.BUY else -volume
        trade = trade_data(
            order, self.engine_code, self.engine_exchange, tradeid=fill.vt_tradeid,
            price=fill.price, quantity=fill.quantity, moment=fill.trade_time,
        )  # fmt: skip
        self._call("on_trade", trade)
        engine.sync_strategy_data(cta)
        engine.put_strategy_event(cta)
        await self._settle()

    def put_variables(self) -> None:
        """Nothing: a CTA strategy announces its own variables (`put_event`, `sync_data`)."""

    async def get_status(self) -> dict[str, Any]:
        """The host's status with the strategy's synced variables."""
        status = await super().get_status()
        if self._cta is not None:
            status["variables"] = synced_variables(self._cta)
        return status

    # --- carrying out what the strategy asked for -----------------------------------------

    @property
    def engine_code(self) -> str:
        """The contract code (vnpy's `symbol`)."""
        assert self._translate is not None
        return self._translate.code

    @property
    def engine_exchange(self) -> Any:
        """The contract's vnpy Exchange."""
        assert self._translate is not None
        return self._translate.exchange

    async def _settle(self) -> None:
        engine = self.engine
        while engine.pending:
            intents, engine.intents = engine.intents, []
            for kind, order in intents:
                if kind == "place":
                    await self._place(order)
                elif order.order_id is not None and order.status in _ACTIVE:
                    await self.cancel(order.order_id)
            if engine.sync_requested:
                engine.sync_requested = False
                await self.services.variables.save(self.strategy_id, synced_variables(self.cta))
            events, engine.events = engine.events, []
            publish = self.services.publish
            if publish is not None:
                about = {"strategy_id": self.strategy_id, "symbol": self.symbol,
                         "class_name": self.cta_class.__name__}  # fmt: skip
                for event in events:
                    publish(self.user_id, {**about, **event})

    async def _place(self, order: LocalOrder) -> None:
        try:
            placed = await self.send_order(
                side_of(order.direction),
                Decimal(str(order.volume)),
                Decimal(str(order.price)),
                OrderType.LIMIT,
            )
        except DomainValidationError as exc:  # the contract refused it: nothing was stored
            order.status = Status.REJECTED
            self.engine.write_log(f"order {order.vt_orderid} refused: {exc.detail}")
            await self._order_changed(order, None)
            return
        order.order_id = placed.order_id
        order.client_order_id = placed.client_order_id
        self._by_order_id[placed.order_id] = order
        if placed.client_order_id is not None:
            self._by_client_id[placed.client_order_id] = order
        if placed.status is OrderStatus.REJECTED:
            order.status = Status.REJECTED
            self.engine.write_log(f"order {order.vt_orderid} rejected: {placed.reject_reason}")
            await self._order_changed(order, None)

    async def _order_changed(self, order: LocalOrder, moment: Any) -> None:
        if order.status not in _ACTIVE:
            self.engine.active.discard(order.vt_orderid)
        data = order_data(order, self.engine_code, self.engine_exchange, moment)
        self._call("on_order", data)
        await self._settle()

    def _call(self, method: str, *args: Any) -> None:
        """One callback of the strategy; an exception is its failure."""
        try:
            getattr(self.cta, method)(*args)
        except Exception as exc:
            raise self._failure(method, exc) from exc

    def _failure(self, method: str, exc: Exception) -> StrategyCallbackError:
        """Trading stops (as vnpy's call_strategy_func) and the error names the callback."""
        self.failed = True
        if self._cta is not None:
            self._cta.trading = False
            self._cta.inited = False
        if isinstance(exc, StrategyCallbackError):
            return exc
        raised_in = _innermost_method(self._cta, exc) or method
        return StrategyCallbackError(
            f"{self.cta_class.__name__}.{raised_in} raised {error_message(exc)}"
        )

    def _bar_loader(self) -> Callable[[str, int, Interval], list[BarData]] | None:
        history = self.services.history
        if history is None:
            return None
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        def load(vt_symbol: str, days: int, interval: Interval) -> list[BarData]:
            ours = VNPY_INTERVALS.get(interval)
            if ours is None:
                raise WarmUpError(f"load_bar: RedFire stores no {interval.value} bars")
            if threading.get_ident() == loop_thread:
                raise WarmUpError("load_bar warms a strategy up: call it in on_init")
            future = asyncio.run_coroutine_threadsafe(
                history.load_days(vt_symbol, days, ours), loop
            )
            return [to_bar_data(bar) for bar in future.result(WARM_UP_TIMEOUT)]

        return load


def _innermost_method(strategy: CtaTemplate | None, exc: BaseException) -> str | None:
    """The strategy's own method deepest in the traceback (on_bar, called by a BarGenerator)."""
    name = None
    traceback = exc.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        if strategy is not None and frame.f_locals.get("self") is strategy:
            name = frame.f_code.co_name
        traceback = traceback.tb_next
    return name
