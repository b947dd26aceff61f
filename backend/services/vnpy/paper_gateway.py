"""PAPER: a vnpy gateway that simulates a market in-process (see paper_market for fill rules)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, OrderType, Status
from vnpy.trader.event import EVENT_ORDER, EVENT_TICK, EVENT_TRADE
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    CancelRequest,
    OrderData,
    OrderRequest,
    SubscribeRequest,
    TickData,
    TradeData,
)

from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.paper_book import PaperBook
from backend.services.vnpy.paper_depth import Depth
from backend.services.vnpy.paper_market import (
    DEPTH_LEVELS,
    IMMEDIATE_TYPES,
    LIMIT_TYPES,
    ZERO,
    Level,
    PaperContract,
    PaperOrder,
    Quote,
    RandomWalk,
    TickBuilder,
    as_decimal,
    contract_data,
    fill_price,
    session_id,
)

SUPPORTED_TYPES = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.FAK, OrderType.FOK}
)


class PaperGateway(BaseGateway):
    """A simulated market: listed contracts, generated or injected ticks, order matching.

    Thread-safe: one lock guards the book, and events are emitted under it so that vnpy
    sees every order's updates in the order they happened. Deterministic under a seed:
    the same seed and the same injected ticks give the same fills. Resting orders are kept
    sorted by price (PaperBook), so a tick costs what it fills, not what rests.
    """

    default_name = "PAPER"

    def __init__(self, event_engine: EventEngine, gateway_name: str = "PAPER") -> None:
        super().__init__(event_engine, gateway_name)
        self._lock = threading.Lock()
        self._contracts: dict[str, PaperContract] = {}
        self._quotes: dict[str, Quote] = {}
        self._depths: dict[str, Depth] = {}  # what orders took of the current quote
        self._walks: dict[str, RandomWalk] = {}
        self._tick_builders: dict[str, TickBuilder] = {}
        self._subscribed: dict[str, None] = {}  # insertion-ordered set
        self._orders: dict[str, PaperOrder] = {}
        self._books: dict[str, PaperBook] = {}
        self._commissions: dict[str, Decimal] = {}
        self._reject_reasons: dict[str, str] = {}
        self._order_seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        self._session = ""
        self._commission_rate = ZERO
        self._stopping = threading.Event()
        self._generator: threading.Thread | None = None
        self._connected = False

    # vnpy gateway interface

    def connect(self, setting: dict[str, Any]) -> None:
        """List the contracts, publish an initial tick for each, start the tick generator."""
        with self._lock:
            if self._contracts:
                self.write_log("PAPER already connected")
                return
            seed = int(setting.get("seed", 42))
            contracts = [PaperContract.from_setting(item) for item in setting["contracts"]]
            self._commission_rate = as_decimal(setting.get("commission_rate", 0))
            # Order ids must not repeat across restarts: prefix them with the session.
            self._session = str(setting.get("session") or session_id())
            now = datetime.now(UTC)
            # With one market for several replicas the feed announces the market's quotes;
            # this replica's start-up prices would be news to nobody (paper_feed.py).
            announce = bool(setting.get("announce_start", True))
            for contract in contracts:
                walk = RandomWalk(contract, seed)
                self._contracts[contract.vt_symbol] = contract
                self._walks[contract.vt_symbol] = walk
                self._tick_builders[contract.vt_symbol] = TickBuilder(contract, self.gateway_name)
                self._books[contract.vt_symbol] = PaperBook()
                self.on_contract(contract_data(contract, self.gateway_name))
                self._quotes[contract.vt_symbol] = walk.initial(now)
                if announce:
                    self._apply_quote(contract, self._quotes[contract.vt_symbol])
            self._connected = True
        interval = float(setting.get("tick_interval", 0))
        if interval > 0:
            self._generator = threading.Thread(
                target=self._generate, args=(interval,), name="paper-ticks", daemon=True
            )
            self._generator.start()
        self.write_log(f"PAPER connected: {len(contracts)} contracts")

    def close(self) -> None:
        """Stop the tick generator and wait for it."""
        self._stopping.set()
        thread = self._generator
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._generator = None

    def subscribe(self, req: SubscribeRequest) -> None:
        """Generate ticks for this contract (when the generator runs)."""
        with self._lock:
            if req.vt_symbol in self._contracts:
                self._subscribed[req.vt_symbol] = None
            else:
                self.write_log(f"PAPER subscribe: unknown contract {req.vt_symbol}")

    def send_order(self, req: OrderRequest) -> str:
        """Accept or reject the order, and fill it at once if it crosses; "" if disconnected."""
        return self._accept(req, None)

    def send_stop_limit(self, req: OrderRequest, limit_price: Decimal) -> str:
        """A STOP request that, once triggered, rests as a limit at `limit_price` (RedFire's
        extension: vnpy's OrderRequest has no second price)."""
        return self._accept(req, limit_price)

    def _accept(self, req: OrderRequest, limit_price: Decimal | None) -> str:
        with self._lock:
            if not self._connected:
                self.write_log("PAPER send_order: disconnected")
                return ""
            orderid = f"{self._session}-{next(self._order_seq)}"
            now = datetime.now(UTC)
            reason = self._check(req)
            if reason is not None:
                return self._reject(req, orderid, reason, now)
            contract = self._contracts[req.vt_symbol]
            order = PaperOrder(
                orderid=orderid,
                contract=contract,
                direction=req.direction,
                order_type=req.type,
                price=as_decimal(req.price),
                volume=as_decimal(req.volume),
                reference=req.reference,
                created=now,
                limit_price=limit_price if req.type == OrderType.STOP else None,
            )
            self._orders[orderid] = order
            self.on_order(self._order_data(order, now))
            if not self._match(order, self._quotes[contract.vt_symbol], now):
                self._books[contract.vt_symbol].add(order)
            return f"{self.gateway_name}.{orderid}"

    def cancel_order(self, req: CancelRequest) -> None:
        """Cancel an open order; unknown or final orders are left alone (and logged)."""
        with self._lock:
            order = self._orders.get(req.orderid)
            if order is None or not order.is_open:
                self.write_log(f"PAPER cancel: order {req.orderid} is not open")
                return
            order.status = Status.CANCELLED
            self._books[order.contract.vt_symbol].remove(order.orderid)
            self.on_order(self._order_data(order, datetime.now(UTC)))

    def on_tick(self, tick: TickData) -> None:
        """vnpy's on_tick, minus the per-symbol tick event when no handler listens for it."""
        self._push(EVENT_TICK, tick.vt_symbol, tick)

    def on_order(self, order: OrderData) -> None:
        """vnpy's on_order, minus the per-order event when no handler listens for it."""
        self._push(EVENT_ORDER, order.vt_orderid, order)

    def on_trade(self, trade: TradeData) -> None:
        """vnpy's on_trade, minus the per-symbol trade event when no handler listens for it."""
        self._push(EVENT_TRADE, trade.vt_symbol, trade)

    def _push(self, event_type: str, subject: str, data: object) -> None:
        """The event, and vnpy's `event_type + subject` copy of it only when it has a handler:
        nobody registers for most of them (one per order), and each costs a trip through the
        event thread."""
        engine = self.event_engine
        engine.put(Event(event_type, data))
        specific = event_type + subject
        if not isinstance(engine, RedFireEventEngine) or engine.wants(specific):
            engine.put(Event(specific, data))

    def query_account(self) -> None:
        """The paper account lives in RedFire, not in the gateway."""

    def query_position(self) -> None:
        """Positions live in RedFire, not in the gateway."""

    # RedFire extensions

    @property
    def connected(self) -> bool:
        """False while the simulated broker link is down (see set_connected)."""
        return self._connected

    def set_connected(self, connected: bool) -> None:
        """Simulate losing (False) and regaining (True) the broker link, for fault drills."""
        with self._lock:
            self._connected = connected
        self.write_log(f"PAPER {'reconnected' if connected else 'disconnected'}")

    def inject_tick(
        self,
        vt_symbol: str,
        *,
        last_price: Decimal,
        bid_price: Decimal | None = None,
        ask_price: Decimal | None = None,
        bid_volume: Decimal = Decimal(10),
        ask_volume: Decimal = Decimal(10),
        volume: Decimal | None = None,
        moment: datetime | None = None,
        bid_depth: Sequence[Level] = (),
        ask_depth: Sequence[Level] = (),
    ) -> None:
        """Publish a tick (bid defaults to last, ask to bid + one tick) and match on it.

        `bid_depth` and `ask_depth` are the levels behind the first (2 to 5), best first;
        without them the tick shows level 1 only, and that is all an order can take.
        """
        bids: tuple[Level, ...] = ()
        asks: tuple[Level, ...] = ()
        if bid_depth or ask_depth:
            if len(bid_depth) >= DEPTH_LEVELS or len(ask_depth) >= DEPTH_LEVELS:
                raise ValueError(f"PAPER quotes at most {DEPTH_LEVELS} levels a side")
            bids, asks = tuple(bid_depth), tuple(ask_depth)
        with self._lock:
            contract = self._contracts.get(vt_symbol)
            if contract is None:
                raise ValueError(f"PAPER lists no contract {vt_symbol!r}")
            bid = last_price if bid_price is None else bid_price
            previous = self._quotes[vt_symbol]
            quote = Quote(  # positional: a tick's cost counts (fields: last, bid, ask...)
                last_price,
                bid,
                bid + contract.price_tick if ask_price is None else ask_price,
                bid_volume,
                ask_volume,
                previous.volume if volume is None else volume,
                moment or datetime.now(UTC),
                bids,
                asks,
            )
            walk = self._walks[vt_symbol]  # a generator here walks on from this tick
            walk.price, walk.volume = last_price, quote.volume
            self._apply_quote(contract, quote)

    def commission_for(self, vt_tradeid: str) -> Decimal | None:
        """Commission of a PAPER trade: price * volume * size * commission rate."""
        return self._commissions.get(vt_tradeid)

    def reject_reason(self, vt_orderid: str) -> str | None:
        """Why PAPER rejected an order (vnpy's OrderData has no field for it)."""
        return self._reject_reasons.get(vt_orderid)

    def get_order(self, orderid: str) -> OrderData | None:
        """The current state of an order by orderid or vt_orderid, for reconciliation."""
        prefix = f"{self.gateway_name}."
        with self._lock:
            order = self._orders.get(orderid.removeprefix(prefix))
            return None if order is None else self._order_data(order, None)

    def list_open_orders(self) -> list[OrderData]:
        """Every open order, oldest first."""
        with self._lock:
            return [
                self._order_data(order, None) for book in self._books.values() for order in book
            ]

    def forget(self, vt_orderids: Iterable[str], vt_tradeids: Iterable[str]) -> set[str]:
        """Drop finished orders (and reject reasons) and trades' commissions; open orders stay.

        For whoever has recorded them (RedFire's database): without this, every order and
        trade is kept for the life of the process. Returns the vt_orderids left alone
        because they are still open here.
        """
        prefix = f"{self.gateway_name}."
        still_open: set[str] = set()
        with self._lock:
            for vt_orderid in vt_orderids:
                orderid = vt_orderid.removeprefix(prefix)
                order = self._orders.get(orderid)
                if order is not None and order.is_open:
                    still_open.add(vt_orderid)
                    continue
                self._orders.pop(orderid, None)
                self._reject_reasons.pop(f"{prefix}{orderid}", None)
            for vt_tradeid in vt_tradeids:
                self._commissions.pop(vt_tradeid, None)
        return still_open

    # internals (called with the lock held)

    def _check(self, req: OrderRequest) -> str | None:
        if req.vt_symbol not in self._contracts:
            return f"unknown contract {req.vt_symbol}"
        if req.type not in SUPPORTED_TYPES:
            return f"order type {req.type.name} is not supported by PAPER"
        if req.direction not in (Direction.LONG, Direction.SHORT):
            return f"direction {req.direction} is not supported by PAPER"
        if not req.volume > 0:
            return "volume must be positive"
        if req.type != OrderType.MARKET and not req.price > 0:
            return f"{req.type.name} orders need a positive price"
        return None

    def _reject(self, req: OrderRequest, orderid: str, reason: str, now: datetime) -> str:
        vt_orderid = f"{self.gateway_name}.{orderid}"
        self._reject_reasons[vt_orderid] = reason
        order = req.create_order_data(orderid, self.gateway_name)
        order.status = Status.REJECTED
        order.datetime = now
        self.write_log(f"PAPER rejected order {vt_orderid}: {reason}")
        self.on_order(order)
        return vt_orderid

    def _apply_quote(self, contract: PaperContract, quote: Quote) -> None:
        self._quotes[contract.vt_symbol] = quote
        self.on_tick(self._tick_builders[contract.vt_symbol](quote))
        book = self._books[contract.vt_symbol]
        if book:
            depth = self._depths[contract.vt_symbol] = Depth(quote)
            book.match_crossing(quote, depth, lambda order: self._match(order, quote, quote.moment))

    def _match(self, order: PaperOrder, quote: Quote, moment: datetime) -> bool:
        """Trade `order` on `quote`'s depth; False when it rests (it did not cross, or a limit
        is left with an unfilled rest), True when it is done (filled, or its rest cancelled).
        """
        if fill_price(order, quote) is None:
            if order.order_type not in IMMEDIATE_TYPES:
                return False
            return self._kill(order, moment)  # FAK and FOK never rest
        if order.limit_price is not None:  # a stop-limit touched: from now on a limit
            order.order_type, order.price, order.limit_price = (
                OrderType.LIMIT,
                order.limit_price,
                None,
            )
            if fill_price(order, quote) is None:
                return False  # it rests as a limit
        order_type = order.order_type
        buy = order.direction == Direction.LONG
        limit = order.price if order_type in LIMIT_TYPES else None
        vt_symbol = order.contract.vt_symbol
        depth = self._depths.get(vt_symbol)
        if depth is None or depth.quote is not quote:
            depth = self._depths[vt_symbol] = Depth(quote)
        wanted = order.volume - order.traded
        if order_type == OrderType.FOK and depth.available(buy, limit) < wanted:
            return self._kill(order, moment)  # the book cannot fill it whole: nothing trades
        taken = depth.take(buy, wanted, limit)
        for price, volume in taken:
            self._trade(order, price, volume, moment)
        if order.traded >= order.volume:
            order.status = Status.ALLTRADED
        elif limit is None or order_type in IMMEDIATE_TYPES:
            # A market order, a triggered stop or a FAK: the rest is cancelled.
            order.status = Status.CANCELLED
        elif taken:
            order.status = Status.PARTTRADED
        else:
            return False  # others took the crossing depth first: nothing changed
        # After its trades, so whoever sees the order's new status already has its fills.
        self.on_order(self._order_data(order, moment))
        return order.status != Status.PARTTRADED

    def _kill(self, order: PaperOrder, moment: datetime) -> bool:
        """Cancel what is left of an order that may not rest (FAK, FOK); it is done."""
        order.status = Status.CANCELLED
        self.on_order(self._order_data(order, moment))
        return True

    def _trade(self, order: PaperOrder, price: Decimal, volume: Decimal, moment: datetime) -> None:
        tradeid = f"{self._session}-{next(self._trade_seq)}"
        contract = order.contract
        commission = price * volume * contract.size * self._commission_rate
        self._commissions[f"{self.gateway_name}.{tradeid}"] = commission
        order.traded += volume
        self.on_trade(
            TradeData(
                gateway_name=self.gateway_name,
                symbol=contract.symbol,
                exchange=contract.exchange,
                orderid=order.orderid,
                tradeid=tradeid,
                direction=order.direction,
                price=float(price),
                volume=float(volume),
                datetime=moment,
            )
        )

    def _order_data(self, order: PaperOrder, moment: datetime | None) -> OrderData:
        # A fresh object each time: vnpy requires data passed to on_order to stay constant.
        return OrderData(
            gateway_name=self.gateway_name,
            symbol=order.contract.symbol,
            exchange=order.contract.exchange,
            orderid=order.orderid,
            type=order.order_type,
            direction=order.direction,
            price=float(order.price),
            volume=float(order.volume),
            traded=float(order.traded),
            status=order.status,
            datetime=moment or order.created,
            reference=order.reference,
        )

    def announce(self, vt_symbol: str) -> Quote:
        """Publish the contract's current quote as a tick.

        Connected with `announce_start` off, a start-up quote stays unpublished until this.
        """
        with self._lock:
            quote = self._quotes[vt_symbol]
            self._apply_quote(self._contracts[vt_symbol], quote)
            return quote

    def step(self, moment: datetime | None = None) -> list[tuple[str, Quote]]:
        """One step of every subscribed contract's random walk, published and matched on.

        The generator thread calls it every `tick_interval`; with one market for several
        replicas (services/market/paper_feed.py) the market's leader does, and the others
        inject what it returns.
        """
        with self._lock:
            now = moment or datetime.now(UTC)
            stepped = []
            for vt_symbol in self._subscribed:
                quote = self._walks[vt_symbol].step(now)
                self._apply_quote(self._contracts[vt_symbol], quote)
                stepped.append((vt_symbol, quote))
            return stepped

    def _generate(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            self.step()
