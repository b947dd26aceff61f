"""RedFireVnPyEngine: vnpy's MainEngine behind RedFire types (Decimal, UTC, domain enums).

vnpy side effects to know about: importing vnpy creates `~/.vntrader` (or uses `./.vntrader`
when the working directory has one), adds a loguru file sink there, and `MainEngine()`
changes the process's working directory into it. The engine puts the working directory
back and silences vnpy's loguru output by forwarding vnpy log events to `logging` instead.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from datetime import datetime

import structlog
from vnpy.trader.engine import MainEngine, OmsEngine
from vnpy.trader.event import EVENT_CONTRACT, EVENT_ORDER, EVENT_TICK, EVENT_TRADE
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import ContractData, OrderData, SubscribeRequest, TickData

from backend.core.config.settings import VnpyConfig
from backend.domain.market import ContractInfo, OrderTicket, OrderUpdate, TickSnapshot
from backend.services.vnpy.bridge import EventBridge
from backend.services.vnpy.conversions import (
    split_vt_symbol,
    to_contract_info,
    to_tick_snapshot,
)
from backend.services.vnpy.errors import (
    EngineNotRunningError,
    GatewayDisconnectedError,
    GatewayLoadError,
    OrderNotFoundError,
    OrderSendError,
    UnknownGatewayError,
)
from backend.services.vnpy.gateway_events import EventTranslator
from backend.services.vnpy.gateways import gateway_setting, resolve_gateway_class
from backend.services.vnpy.main_engine import close_main_engine, create_main_engine
from backend.services.vnpy.orders import build_order_request
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.types import BridgeEvent

logger = structlog.get_logger(__name__)
START_FLUSH_TIMEOUT = 10.0


class RedFireVnPyEngine:
    """Runs vnpy (EventEngine, MainEngine, gateways) and speaks RedFire types to the rest.

    Orders go to gateways synchronously (`send_order`), which is cheap for PAPER; a real
    gateway may block on its network, so async callers use `submit_order`, which moves
    those calls to a worker thread. Events come back through `bridge` as TickSnapshot,
    OrderUpdate, TradeFill and ContractInfo.
    """

    def __init__(self, config: VnpyConfig, *, shared_paper_market: bool = False) -> None:
        self.config = config
        self.shared_paper_market = shared_paper_market
        self.bridge = EventBridge(maxsize=config.event_queue_size)
        self._gateways: dict[str, BaseGateway] = {}
        self._translator = EventTranslator(self._gateways)
        self._main_engine: MainEngine | None = None
        self._running = False
        # Each contract's ContractInfo, kept while vnpy keeps the same ContractData object.
        self._contract_infos: dict[str, tuple[ContractData, ContractInfo]] = {}
        # The latest tick of each contract as converted, with the vnpy tick it came from and
        # that tick's time: every order reads it twice (risk, buying power), ticks come far
        # less often. A gateway pushes a new TickData per tick (vnpy keeps references).
        self._tick_snapshots: dict[str, tuple[TickData, datetime, TickSnapshot]] = {}
        self.bridge.route(EVENT_TICK, BridgeEvent.TICK, self._translator.tick)
        self.bridge.route(EVENT_ORDER, BridgeEvent.ORDER, self._translator.order)
        self.bridge.route(EVENT_TRADE, BridgeEvent.TRADE, self._translator.trade)
        self.bridge.route(EVENT_CONTRACT, BridgeEvent.CONTRACT, to_contract_info)
        self.bridge.on_drain(self._translator.publish_tick_counts)

    @property
    def is_running(self) -> bool:
        """True once start() has connected every gateway, until stop()."""
        return self._running

    @property
    def gateway_names(self) -> list[str]:
        """Names of the connected gateways (`PAPER`, `CTP`...)."""
        return list(self._gateways)

    @property
    def disconnected_gateways(self) -> list[str]:
        """Gateways that report a lost broker link (PAPER's `set_connected(False)`)."""
        return [name for name, g in self._gateways.items() if not getattr(g, "connected", True)]

    # lifecycle

    async def start(self) -> None:
        """Create vnpy's engines, connect every configured gateway; a no-op when started."""
        if self._main_engine is not None:
            return
        loop = asyncio.get_running_loop()
        classes = self._resolve_gateways()
        if self.config.gil_switch_interval is not None:
            # Process-wide: vnpy's event thread and the loop hand the GIL over more often.
            sys.setswitchinterval(self.config.gil_switch_interval)
        try:
            main_engine = self._create_main_engine()
            self.bridge.start(main_engine.event_engine, loop)
            for spec, gateway_class in classes:
                await self._connect(main_engine, spec, gateway_class)
            self._subscribe_paper_contracts()
            # vnpy handles events on its own thread: wait until the start-up contracts and
            # ticks are in its caches (and with subscribers) before answering queries.
            async with asyncio.timeout(START_FLUSH_TIMEOUT):
                await self.bridge.flush()
        except BaseException:
            await self.stop()
            raise
        self._running = True
        logger.info("vnpy_engine_started", gateways=list(self._gateways))

    async def stop(self) -> None:
        """Close gateways and vnpy's threads, deliver buffered events; safe at any time."""
        self._running = False
        main_engine, self._main_engine = self._main_engine, None
        if main_engine is not None:
            if all(isinstance(g, PaperGateway) for g in main_engine.gateways.values()):
                close_main_engine(main_engine)
            else:  # a real gateway's close may wait on its network
                await asyncio.to_thread(close_main_engine, main_engine)
        await self.bridge.stop()
        self._gateways.clear()

    async def flush(self) -> None:
        """Wait until every event emitted so far has reached every bridge subscriber.

        Unbounded: wrap it in `asyncio.timeout()`.
        """
        self._require_running()
        await self.bridge.flush()

    # orders

    def send_order(self, ticket: OrderTicket, gateway: str | None = None) -> str:
        """Send an order and return its vt_orderid (blocking; see submit_order)."""
        target = self._gateway_for(ticket.symbol, gateway)
        request = build_order_request(ticket)
        if ticket.limit_price is None:
            vt_orderid: str = target.send_order(request)
        elif isinstance(target, PaperGateway):  # vnpy's OrderRequest has no stop-limit
            vt_orderid = target.send_stop_limit(request, ticket.limit_price)
        else:
            raise OrderSendError(f"gateway {target.gateway_name} takes no stop-limit orders")
        if not vt_orderid and target.gateway_name in self.disconnected_gateways:
            raise GatewayDisconnectedError(f"gateway {target.gateway_name} is disconnected")
        if not vt_orderid:
            raise OrderSendError(f"gateway {target.gateway_name} did not accept the order")
        return vt_orderid

    async def submit_order(self, ticket: OrderTicket, gateway: str | None = None) -> str:
        """send_order for async callers: inline for PAPER, in a worker thread otherwise."""
        if isinstance(self._gateway_for(ticket.symbol, gateway), PaperGateway):
            return self.send_order(ticket, gateway)
        return await asyncio.to_thread(self.send_order, ticket, gateway)

    def cancel_order(self, vt_orderid: str) -> None:
        """Ask the order's gateway to cancel it (the outcome arrives as an OrderUpdate)."""
        target, order = self._find_order(vt_orderid)
        target.cancel_order(order.create_cancel_request())

    async def request_cancel(self, vt_orderid: str) -> None:
        """cancel_order for async callers: inline for PAPER, in a worker thread otherwise."""
        target, order = self._find_order(vt_orderid)
        if isinstance(target, PaperGateway):
            target.cancel_order(order.create_cancel_request())
        else:
            await asyncio.to_thread(target.cancel_order, order.create_cancel_request())

    def get_order(self, vt_orderid: str) -> OrderUpdate | None:
        """An order's latest known state, for reconciliation; None when unknown."""
        try:
            target, order = self._find_order(vt_orderid)
        except (OrderNotFoundError, UnknownGatewayError):
            return None
        return self._translator.order_update(order, target)

    def list_open_orders(self) -> list[OrderUpdate]:
        """Every order still open at its gateway."""
        main_engine = self._require_running()
        orders: list[tuple[BaseGateway, OrderData]] = []
        for name, target in self._gateways.items():
            if isinstance(target, PaperGateway):
                orders += [(target, order) for order in target.list_open_orders()]
            else:
                active = main_engine.get_all_active_orders()
                orders += [(target, o) for o in active if o.gateway_name == name]
        return [self._translator.order_update(order, target) for target, order in orders]

    def forget(self, vt_orderids: Iterable[str], vt_tradeids: Iterable[str] = ()) -> None:
        """Drop finished orders and their trades from vnpy's OmsEngine and PAPER's books.

        For the order event processor, once it has recorded them: both would otherwise keep
        every order and trade for the life of the process. An order still active in either
        is kept (cancels and reconciliation look it up there). Call it only after the
        order's final update has come through the bridge: vnpy's OmsEngine handles each
        event before the bridge does, so it will not cache the order again.
        """
        main_engine = self._main_engine
        if main_engine is None:
            return
        vt_orderids = list(vt_orderids)
        vt_tradeids = list(vt_tradeids)
        kept: set[str] = set()
        for target in self._gateways.values():
            if isinstance(target, PaperGateway):
                prefix = f"{target.gateway_name}."
                mine = [vt for vt in vt_orderids if vt.startswith(prefix)]
                trades = [vt for vt in vt_tradeids if vt.startswith(prefix)]
                kept |= target.forget(mine, trades)
        oms = main_engine.engines.get("oms")
        if not isinstance(oms, OmsEngine):
            return
        # vnpy's event thread writes these dicts; each get/pop is atomic, and a final order
        # gets no further updates, so none is lost between the two.
        for vt_orderid in vt_orderids:
            cached = oms.orders.get(vt_orderid)
            if vt_orderid in kept or cached is None or cached.is_active():
                continue
            oms.orders.pop(vt_orderid, None)
            oms.active_orders.pop(vt_orderid, None)
        for vt_tradeid in vt_tradeids:
            oms.trades.pop(vt_tradeid, None)

    # market data

    def subscribe(self, vt_symbol: str, gateway: str | None = None) -> None:
        """Ask the contract's gateway for its ticks."""
        target = self._gateway_for(vt_symbol, gateway)
        symbol, exchange = split_vt_symbol(vt_symbol)
        target.subscribe(SubscribeRequest(symbol=symbol, exchange=exchange))

    def get_contract(self, vt_symbol: str) -> ContractInfo | None:
        """A listed contract, or None."""
        contract = self._require_running().get_contract(vt_symbol)
        if contract is None:
            return None
        cached = self._contract_infos.get(vt_symbol)
        if cached is not None and cached[0] is contract:
            return cached[1]
        info = to_contract_info(contract)
        self._contract_infos[vt_symbol] = (contract, info)
        return info

    def list_contracts(self) -> list[ContractInfo]:
        """Every contract the gateways list, sorted by symbol."""
        contracts = self._require_running().get_all_contracts()
        return sorted((to_contract_info(c) for c in contracts), key=lambda c: c.symbol)

    def get_tick(self, vt_symbol: str) -> TickSnapshot | None:
        """The latest tick of a contract, or None when none has arrived."""
        tick = self._require_running().get_tick(vt_symbol)
        if tick is None:
            return None
        cached = self._tick_snapshots.get(vt_symbol)
        if cached is not None and cached[0] is tick and cached[1] == tick.datetime:
            return cached[2]
        snapshot = to_tick_snapshot(tick)
        self._tick_snapshots[vt_symbol] = (tick, tick.datetime, snapshot)
        return snapshot

    def paper_gateway(self, vt_symbol: str | None = None) -> PaperGateway:
        """The PAPER gateway (that lists `vt_symbol`), for tick injection and its side data."""
        target = (
            self._gateway_for(vt_symbol, None)
            if vt_symbol
            else self._gateways.get(PaperGateway.default_name)
        )
        if not isinstance(target, PaperGateway):
            raise UnknownGatewayError("this needs the PAPER gateway, which is not connected")
        return target

    # internals

    def _resolve_gateways(self) -> list[tuple[str, type[BaseGateway]]]:
        classes = [(spec, resolve_gateway_class(spec)) for spec in self.config.gateways]
        names = [gateway_class.default_name for _, gateway_class in classes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise GatewayLoadError(f"gateways: more than one gateway named {duplicates}")
        return classes

    def _create_main_engine(self) -> MainEngine:
        self._main_engine = create_main_engine(self.config.event_timer_interval)
        return self._main_engine

    async def _connect(
        self, main_engine: MainEngine, spec: str, gateway_class: type[BaseGateway]
    ) -> None:
        target = main_engine.add_gateway(gateway_class)
        self._gateways[target.gateway_name] = target
        setting = gateway_setting(spec, gateway_class, self.config)
        if isinstance(target, PaperGateway):
            if self.shared_paper_market:  # the paper feed walks and announces the prices
                setting = {**setting, "tick_interval": 0, "announce_start": False}
            target.connect(setting)
        else:
            await asyncio.to_thread(target.connect, setting)

    def _subscribe_paper_contracts(self) -> None:
        target = self._gateways.get(PaperGateway.default_name)
        if isinstance(target, PaperGateway):
            for contract in self.config.paper_contracts:
                self.subscribe(contract.vt_symbol, target.gateway_name)

    def _require_running(self) -> MainEngine:
        if self._main_engine is None:
            raise EngineNotRunningError("the vnpy engine is not running")
        return self._main_engine

    def _gateway_for(self, vt_symbol: str | None, gateway: str | None) -> BaseGateway:
        main_engine = self._require_running()
        contract = main_engine.get_contract(vt_symbol) if vt_symbol and not gateway else None
        name = gateway or (contract.gateway_name if contract else self.config.default_gateway)
        target = self._gateways.get(name)
        if target is None:
            raise UnknownGatewayError(f"no gateway named {name!r} is connected")
        return target

    def _find_order(self, vt_orderid: str) -> tuple[BaseGateway, OrderData]:
        main_engine = self._require_running()
        name, _, orderid = vt_orderid.partition(".")
        target = self._gateways.get(name)
        if target is None:
            raise UnknownGatewayError(f"no gateway named {name!r} is connected")
        # PAPER knows its orders at once; vnpy's cache learns them on its event thread.
        order = target.get_order(orderid) if isinstance(target, PaperGateway) else None
        order = order or main_engine.get_order(vt_orderid)
        if order is None:
            raise OrderNotFoundError(f"order {vt_orderid} is not known to its gateway")
        return target, order


def vnpy_engine_from_config(
    config: VnpyConfig, *, shared_paper_market: bool = False
) -> RedFireVnPyEngine:
    """The engine for `config`; the application registers its start/stop as lifecycle hooks.

    `shared_paper_market`: PAPER neither walks nor announces its own prices; the paper feed
    (services/market/paper_feed.py) brings one market's to every replica.
    """
    return RedFireVnPyEngine(config, shared_paper_market=shared_paper_market)
