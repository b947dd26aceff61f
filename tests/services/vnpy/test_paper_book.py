"""PAPER's price-sorted books fill exactly what a scan of every resting order filled, on deep
quotes and on thin ones, and a tick costs about the same with 20,000 orders resting as with
none, and with 20,000 orders crossed by a thin quote as with 20."""

from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.constant import OrderType as VnpyOrderType
from vnpy.trader.object import CancelRequest, OrderRequest

from backend.domain.market import OrderTicket
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.paper_depth import Depth
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.paper_market import PaperContract, PaperOrder, Quote, fill_price

from .conftest import IF, RB, Recorder

D = Decimal
TICKS = {IF: D("0.2"), RB: D(1)}
START = {IF: D("3500.0"), RB: D(3300)}
TYPES = {
    OrderType.LIMIT: VnpyOrderType.LIMIT,
    OrderType.STOP: VnpyOrderType.STOP,
    OrderType.MARKET: VnpyOrderType.MARKET,
}
NOW = datetime(2024, 1, 2, tzinfo=UTC)


class ScanningBook:
    """The book as PAPER kept it before: every open order checked on every tick, oldest first."""

    def __init__(self) -> None:
        self.quotes = {
            symbol: _quote(START[symbol], START[symbol] + TICKS[symbol]) for symbol in TICKS
        }
        self.open: dict[str, PaperOrder] = {}
        self.fills: list[tuple[str, Decimal, Decimal]] = []

    def send(self, vt_orderid: str, symbol: str, order: PaperOrder) -> None:
        price = fill_price(order, self.quotes[symbol])
        if price is None:
            self.open[vt_orderid] = order
        else:
            self.fills.append((vt_orderid, price, order.volume))

    def cancel(self, vt_orderid: str) -> None:
        self.open.pop(vt_orderid, None)

    def tick(self, symbol: str, quote: Quote) -> None:
        self.quotes[symbol] = quote
        for vt_orderid, order in list(self.open.items()):
            if order.contract.vt_symbol != symbol:
                continue
            price = fill_price(order, quote)
            if price is not None:
                del self.open[vt_orderid]
                self.fills.append((vt_orderid, price, order.volume))


# Ticks deep enough for every order between two of them: the scan knew no depth.
DEEP = D(1_000_000)


def _quote(bid: Decimal, ask: Decimal) -> Quote:
    return Quote(bid, bid, ask, DEEP, DEEP, D(0), NOW)


def _contract(symbol: str) -> PaperContract:
    code, exchange = symbol.split(".")
    return PaperContract(
        symbol=code,
        exchange=Exchange(exchange),
        name=code,
        price_tick=TICKS[symbol],
        size=D(1),
        min_volume=D(1),
        initial_price=START[symbol],
    )


def _cancel_one(paper: PaperGateway, open_orders: dict[str, PaperOrder], rng: random.Random) -> str:
    """Cancel one of `open_orders` at PAPER; its vt_orderid."""
    vt_orderid = rng.choice(list(open_orders))
    order = open_orders[vt_orderid]
    orderid = vt_orderid.removeprefix("PAPER.")
    paper.cancel_order(CancelRequest(orderid, order.contract.symbol, order.contract.exchange))
    return vt_orderid


def _send_one(
    engine: RedFireVnPyEngine,
    rng: random.Random,
    contract: PaperContract,
    mid: Decimal,
    *,
    stops: int,
    lots: int,
    away: int,
    stop_limits: bool = False,
) -> PaperOrder:
    """Send a random limit, stop (`stops` in 12 limits) or market order of 1 to `lots` lots,
    up to `away` price ticks from `mid`; with `stop_limits`, half the stops rest as limits
    once triggered, up to 3 ticks past their stop price. The order as a reference book keeps
    it (its orderid is the vt_orderid)."""
    kind = rng.choices((OrderType.LIMIT, OrderType.STOP, OrderType.MARKET), (12, stops, 1))[0]
    side = rng.choice((OrderSide.BUY, OrderSide.SELL))
    quantity = D(rng.randint(1, lots))
    price = (
        None if kind == OrderType.MARKET else mid + contract.price_tick * rng.randint(-away, away)
    )
    limit_price = None
    if stop_limits and price is not None and kind == OrderType.STOP and rng.random() < 0.5:
        past = contract.price_tick * rng.randint(0, 3)
        limit_price = price + past if side == OrderSide.BUY else price - past
    ticket = OrderTicket(contract.vt_symbol, side, kind, quantity, price, limit_price=limit_price)
    vt_orderid = engine.send_order(ticket)
    return PaperOrder(
        orderid=vt_orderid,
        contract=contract,
        direction=Direction.LONG if side == OrderSide.BUY else Direction.SHORT,
        order_type=TYPES[kind],
        price=price or D(0),
        volume=quantity,
        reference="",
        created=NOW,
        limit_price=limit_price,
    )


async def test_fills_match_a_scan_of_every_resting_order(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    rng = random.Random(20241203)
    paper = engine.paper_gateway(IF)
    reference = ScanningBook()
    contracts = {symbol: _contract(symbol) for symbol in TICKS}
    mids = dict(START)
    for _ in range(4000):
        symbol = rng.choice((IF, RB))
        tick = TICKS[symbol]
        roll = rng.random()
        if roll < 0.25:  # a tick; now and then one side unquoted
            mids[symbol] += tick * rng.randint(-3, 3)
            bid, ask = mids[symbol], mids[symbol] + tick * rng.randint(1, 3)
            if rng.random() < 0.05:
                bid = D(0)
            elif rng.random() < 0.05:
                ask = D(0)
            paper.inject_tick(
                symbol,
                last_price=mids[symbol],
                bid_price=bid,
                ask_price=ask,
                bid_volume=DEEP,
                ask_volume=DEEP,
            )
            reference.tick(symbol, _quote(bid, ask))
        elif roll < 0.38 and reference.open:  # a cancel
            reference.cancel(_cancel_one(paper, reference.open, rng))
        else:
            order = _send_one(
                engine, rng, contracts[symbol], mids[symbol], stops=5, lots=3, away=40
            )
            reference.send(order.orderid, symbol, order)
    await recorder.settle()

    fills = [(f.vt_orderid, f.price, f.quantity) for f in recorder.trades]
    assert len(fills) > 500  # both paths were exercised: orders filled and orders resting
    assert len(reference.open) > 100
    assert fills == reference.fills  # same orders, same prices, same order of fills
    resting = [order.vt_orderid for order in engine.list_open_orders()]
    by_symbol = {
        s: [vt for vt, o in reference.open.items() if o.contract.vt_symbol == s] for s in TICKS
    }
    assert resting == by_symbol[IF] + by_symbol[RB]  # oldest first, book by book
    # Fills are whole, as before: no partial fills, every fill is its order's full quantity.
    assert not [u for u in recorder.orders if u.status == OrderStatus.PARTIALLY_FILLED]
    filled = {u.vt_orderid: u for u in recorder.orders if u.status == OrderStatus.FILLED}
    assert {vt: q for vt, _, q in fills} == {vt: u.quantity for vt, u in filled.items()}


class ThinScanningBook:
    """Every open order offered each tick's depth, oldest first: what PAPER's matching means.

    An order takes what is left of the quote's levels within its price (a stop or market
    order: at any price, the rest cancelled); a limit the depth did not fill whole rests on
    in its place. Arrivals take from the same depth as the tick before them.
    """

    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}
        self.depths: dict[str, Depth] = {}
        self.open: dict[str, PaperOrder] = {}
        self.fills: list[tuple[str, Decimal, Decimal]] = []

    def _offer(self, vt_orderid: str, order: PaperOrder) -> bool:
        """Trade `order` on its contract's depth; True when it is done."""
        symbol = order.contract.vt_symbol
        quote = self.quotes[symbol]
        if fill_price(order, quote) is None:
            return False
        if order.limit_price is not None:  # a stop-limit triggered: a limit from now on
            order.order_type, order.price = VnpyOrderType.LIMIT, order.limit_price
            order.limit_price = None
            if fill_price(order, quote) is None:
                return False
        buy = order.direction == Direction.LONG
        limit = order.price if order.order_type == VnpyOrderType.LIMIT else None
        for price, volume in self.depths[symbol].take(buy, order.volume - order.traded, limit):
            order.traded += volume
            self.fills.append((vt_orderid, price, volume))
        return order.traded >= order.volume or limit is None

    def send(self, vt_orderid: str, order: PaperOrder) -> None:
        if not self._offer(vt_orderid, order):
            self.open[vt_orderid] = order

    def cancel(self, vt_orderid: str) -> None:
        self.open.pop(vt_orderid, None)

    def tick(self, symbol: str, quote: Quote) -> None:
        self.quotes[symbol], self.depths[symbol] = quote, Depth(quote)
        for vt_orderid, order in list(self.open.items()):
            if order.contract.vt_symbol == symbol and self._offer(vt_orderid, order):
                del self.open[vt_orderid]


def _thin_tick(
    paper: PaperGateway, reference: ThinScanningBook, symbol: str, mid: Decimal, rng: random.Random
) -> None:
    """A quote of a few lots a level, one to three levels a side, now and then a side empty."""
    tick = TICKS[symbol]
    bid, ask = mid, mid + tick * rng.randint(1, 3)
    if rng.random() < 0.05:
        bid = D(0)
    elif rng.random() < 0.05:
        ask = D(0)
    bid_volume, ask_volume = D(rng.randint(1, 3)), D(rng.randint(1, 3))
    bids = tuple((bid - tick * i, D(rng.randint(1, 4))) for i in range(1, rng.randint(1, 3)))
    asks = tuple((ask + tick * i, D(rng.randint(1, 4))) for i in range(1, rng.randint(1, 3)))
    if bid == 0:
        bids = ()
    if ask == 0:
        asks = ()
    paper.inject_tick(
        symbol,
        last_price=mid,
        bid_price=bid,
        ask_price=ask,
        bid_volume=bid_volume,
        ask_volume=ask_volume,
        moment=NOW,
        bid_depth=bids,
        ask_depth=asks,
    )
    quote = Quote(mid, bid, ask, bid_volume, ask_volume, D(0), NOW, bids, asks)
    reference.tick(symbol, quote)


async def test_fills_on_thin_quotes_match_a_scan_oldest_first(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    """Most crossing orders find the depth taken: they rest on, and the next tick serves the
    oldest first, whatever their prices (partial fills included); triggered stop-limits rest
    as limits in their place."""
    rng = random.Random(20261204)
    paper = engine.paper_gateway(IF)
    reference = ThinScanningBook()
    contracts = {symbol: _contract(symbol) for symbol in TICKS}
    mids = dict(START)
    stop_limits: list[PaperOrder] = []
    for symbol in TICKS:
        _thin_tick(paper, reference, symbol, mids[symbol], rng)
    for _ in range(4000):
        symbol = rng.choice((IF, RB))
        tick = TICKS[symbol]
        roll = rng.random()
        if roll < 0.2:
            mids[symbol] += tick * rng.randint(-3, 3)
            _thin_tick(paper, reference, symbol, mids[symbol], rng)
        elif roll < 0.3 and reference.open:
            reference.cancel(_cancel_one(paper, reference.open, rng))
        else:
            contract, mid = contracts[symbol], mids[symbol]
            order = _send_one(engine, rng, contract, mid, stops=4, lots=4, away=8, stop_limits=True)
            if order.limit_price is not None:
                stop_limits.append(order)
            reference.send(order.orderid, order)
    await recorder.settle()

    fills = [(f.vt_orderid, f.price, f.quantity) for f in recorder.trades]
    assert len(fills) > 1000
    assert len(reference.open) > 150  # crossing orders the depth could not serve rest on
    assert sum(o.traded > 0 for o in reference.open.values()) > 5  # partly filled, resting
    triggered = [o for o in stop_limits if o.order_type == VnpyOrderType.LIMIT]
    resting_as_limits = [o for o in triggered if o.orderid in reference.open]
    assert len(resting_as_limits) > 5  # stop-limits triggered that rest as limits
    assert sum(o.traded > 0 for o in triggered) > 50
    assert fills == reference.fills  # same orders, same levels, same volumes, same order
    resting = [(o.vt_orderid, o.traded) for o in engine.list_open_orders()]
    by_symbol = {
        s: [(vt, o.traded) for vt, o in reference.open.items() if o.contract.vt_symbol == s]
        for s in TICKS
    }
    assert resting == by_symbol[IF] + by_symbol[RB]


async def test_cancelled_orders_leave_the_book_in_arrival_order(
    engine: RedFireVnPyEngine, recorder: Recorder
) -> None:
    paper = engine.paper_gateway(IF)
    # 3,000 buys from 3490.0 down; cancelling 2,500 of them rebuilds the book's heaps.
    sent = [
        engine.send_order(
            OrderTicket(IF, OrderSide.BUY, OrderType.LIMIT, D(1), D("3490.0") - D("0.2") * (i % 40))
        )
        for i in range(3000)
    ]
    cancelled = set(sent[::6]) | set(sent[1::6]) | set(sent[2::6]) | set(sent[3::6])
    cancelled |= set(sent[4::6][:100])
    for vt_orderid in cancelled:
        paper.cancel_order(
            CancelRequest(vt_orderid.removeprefix("PAPER."), "IF2412", Exchange.CFFEX)
        )
    kept = [vt for vt in sent if vt not in cancelled]
    assert [o.vt_orderid for o in engine.list_open_orders()] == kept

    paper.inject_tick(IF, last_price=D("3400.0"), ask_volume=DEEP)  # crosses every resting buy
    await recorder.settle()
    assert [f.vt_orderid for f in recorder.trades] == kept
    assert {f.price for f in recorder.trades} == {D("3400.2")}
    assert engine.list_open_orders() == []


def _tick_cost(gateway: PaperGateway, rounds: int) -> float:
    """The cheapest of `rounds` ticks of IF, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for i in range(rounds):
        price = D("3500.0") + D("0.2") * (i % 3)
        started = time.perf_counter()
        gateway.inject_tick(IF, last_price=price)
        best = min(best, time.perf_counter() - started)
    return best


def _if_gateway() -> PaperGateway:
    """PAPER listing IF2412 at 3500, its event engine not started (events wait, unhandled)."""
    gateway = PaperGateway(RedFireEventEngine())
    contract = {"symbol": "IF2412", "exchange": "CFFEX", "price_tick": "0.2"}
    gateway.connect({"contracts": [{**contract, "initial_price": "3500"}]})
    return gateway


def test_a_tick_costs_about_the_same_with_20000_orders_resting() -> None:
    gateway = _if_gateway()
    empty = _tick_cost(gateway, 300)
    for i in range(20_000):
        below, above = D("3400.0") - D("0.2") * (i % 500), D("3600.0") + D("0.2") * (i % 500)
        buy, stop = i % 2 == 0, i % 5 == 0
        price = (above if buy else below) if stop else (below if buy else above)
        request = OrderRequest(
            symbol="IF2412",
            exchange=Exchange.CFFEX,
            direction=Direction.LONG if buy else Direction.SHORT,
            type=VnpyOrderType.STOP if stop else VnpyOrderType.LIMIT,
            volume=1,
            price=float(price),
        )
        gateway.send_order(request)
    assert len(gateway.list_open_orders()) == 20_000
    full = _tick_cost(gateway, 300)
    # A scan of 20,000 orders costs hundreds of times an empty book's tick; sorted, a few.
    assert full < 5 * empty, (empty, full)


def test_a_thin_quote_crossing_20000_orders_costs_about_what_it_costs_crossing_20() -> None:
    """The quote fills one lot; the orders it crosses but cannot serve are passed over, a
    price level at a time: 20,000 orders on 20 levels cost what 20 orders on them cost."""

    def cost_with(crossed: int) -> float:
        gateway = _if_gateway()
        gateway.inject_tick(IF, last_price=D("3500.0"), ask_volume=D(1))
        prices = itertools.cycle(D("3500.2") + D("0.2") * level for level in range(20))

        def send_buy() -> None:
            request = OrderRequest(
                symbol="IF2412",
                exchange=Exchange.CFFEX,
                direction=Direction.LONG,
                type=VnpyOrderType.LIMIT,
                volume=1,
                price=float(next(prices)),
            )
            gateway.send_order(request)

        for _ in range(crossed + 1):  # the first takes the quote's one lot, the rest rest
            send_buy()
        assert len(gateway.list_open_orders()) == crossed
        best = float("inf")
        for _ in range(200):
            started = time.perf_counter()
            gateway.inject_tick(IF, last_price=D("3500.0"), ask_volume=D(1))  # fills one lot
            best = min(best, time.perf_counter() - started)
            send_buy()  # rests: the tick's lot is taken
        # Each tick filled one order (its one lot), each order sent since rested: 200 in, 200 out.
        assert len(gateway.list_open_orders()) == crossed
        return best

    few, many = cost_with(20), cost_with(20_000)
    assert many < 3 * few, (few, many)
