"""Benchmark: what one PAPER tick costs with no order resting and with 20,000 resting.

Run: .venv/bin/python -m bench.bench_paper [--resting N] [--ticks T]

A tick of one contract goes through `PaperGateway.inject_tick` (quote, TickData, vnpy events,
matching) on a gateway whose event engine is not started, so only the gateway's own work is
timed. The resting orders are limits and stops on both sides, 100 to 200 price ticks from the
touch: none trades on these ticks, as in a quiet market. The reference row scans every resting
order with the fill rule on each tick, as the book did before it was kept sorted by price
(backend/services/vnpy/paper_book.py). Each row is the median of T ticks, in microseconds.

The crossed rows are a busy market's: buy limits on 20 price levels at and above the ask, each
tick showing one lot, so each tick fills the oldest order and every other one it crosses
rests on (one order is sent after each tick, untimed, so the count holds). Before the book
kept limits by price level, such a tick took every crossed order out and put it back: 20,000
crossed orders cost about 100 ms a tick (tests/services/vnpy/test_paper_book.py).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

from vnpy.trader.constant import Direction, Exchange, OrderType
from vnpy.trader.object import OrderRequest

from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.paper_market import PaperContract, PaperOrder, Quote, fill_price

SYMBOL, CODE = "IF2412.CFFEX", "IF2412"
TICK = Decimal("0.2")
START = Decimal("3500.0")


def gateway_with(resting: int) -> PaperGateway:
    """A connected PAPER gateway on IF2412 with `resting` orders that the ticks never cross."""
    gateway = PaperGateway(RedFireEventEngine())
    setting = {"symbol": CODE, "exchange": "CFFEX", "price_tick": "0.2", "initial_price": "3500"}
    gateway.connect({"contracts": [setting]})
    for request in resting_requests(resting):
        gateway.send_order(request)
    return gateway


def resting_requests(count: int) -> list[OrderRequest]:
    """Buy and sell limits and stops, 100 to 200 price ticks away from 3500."""
    requests = []
    for i in range(count):
        below, above = START - TICK * (100 + i % 100), START + TICK * (100 + i % 100)
        buy, stop = i % 2 == 0, i % 5 == 0
        price = (above if buy else below) if stop else (below if buy else above)
        requests.append(
            OrderRequest(
                symbol=CODE,
                exchange=Exchange.CFFEX,
                direction=Direction.LONG if buy else Direction.SHORT,
                type=OrderType.STOP if stop else OrderType.LIMIT,
                volume=1,
                price=float(price),
            )
        )
    return requests


def tick_costs(gateway: PaperGateway, ticks: int) -> list[float]:
    """Seconds per inject_tick, walking the price over three ticks of the grid."""
    costs = []
    for i in range(ticks):
        price = START + TICK * (i % 3)
        started = time.perf_counter()
        gateway.inject_tick(SYMBOL, last_price=price)
        costs.append(time.perf_counter() - started)
    return costs


def crossed_costs(crossed: int, ticks: int) -> list[float]:
    """Seconds per one-lot tick with `crossed` buy limits at or above the ask (20 levels)."""
    gateway = gateway_with(0)
    gateway.inject_tick(SYMBOL, last_price=START, ask_volume=Decimal(1))
    prices = itertools.cycle(START + TICK * (1 + level) for level in range(20))

    def send_buy() -> None:
        request = OrderRequest(
            symbol=CODE,
            exchange=Exchange.CFFEX,
            direction=Direction.LONG,
            type=OrderType.LIMIT,
            volume=1,
            price=float(next(prices)),
        )
        gateway.send_order(request)

    for _ in range(crossed + 1):  # the first takes the quote's lot; the rest rest
        send_buy()
    costs = []
    for _ in range(ticks):
        started = time.perf_counter()
        gateway.inject_tick(SYMBOL, last_price=START, ask_volume=Decimal(1))
        costs.append(time.perf_counter() - started)
        send_buy()
    if len(gateway.list_open_orders()) != crossed:
        raise RuntimeError("each tick was to fill one order")
    return costs


def scan_costs(gateway: PaperGateway, resting: int, ticks: int) -> list[float]:
    """A tick of an empty book plus a scan of `resting` orders with the fill rule."""
    contract = PaperContract(CODE, Exchange.CFFEX, CODE, TICK, Decimal(300), Decimal(1), START)
    moment = datetime.now(UTC)
    book = {
        str(i): PaperOrder(
            str(i), contract, r.direction, r.type, Decimal(str(r.price)), Decimal(1), "", moment
        )
        for i, r in enumerate(resting_requests(resting))
    }
    costs = []
    for i in range(ticks):
        price = START + TICK * (i % 3)
        quote = Quote(price, price, price + TICK, Decimal(10), Decimal(10), Decimal(0), moment)
        started = time.perf_counter()
        gateway.inject_tick(SYMBOL, last_price=price)
        for order in list(book.values()):
            fill_price(order, quote)
        costs.append(time.perf_counter() - started)
    return costs


def main() -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=20_000)
    parser.add_argument("--ticks", type=int, default=2_000)
    args = parser.parse_args()
    empty = statistics.median(tick_costs(gateway_with(0), args.ticks))
    full = statistics.median(tick_costs(gateway_with(args.resting), args.ticks))
    few = statistics.median(crossed_costs(20, args.ticks))
    many = statistics.median(crossed_costs(args.resting, args.ticks))
    scan_ticks = max(20, args.ticks // 20)
    scan = statistics.median(scan_costs(gateway_with(0), args.resting, scan_ticks))
    print("\nPAPER tick cost (one contract, median, microseconds)")
    print(f"{'scenario':<60} {'us/tick':>10} {'x empty':>8}")
    rows = [
        ("PAPER tick, 0 orders resting", empty),
        (f"PAPER tick, {args.resting:,} orders resting", full),
        (f"reference: scan of {args.resting:,} resting orders (unsorted book)", scan),
        ("PAPER one-lot tick, 20 orders crossed (fills 1)", few),
        (f"PAPER one-lot tick, {args.resting:,} orders crossed (fills 1)", many),
    ]
    for name, cost in rows:
        print(f"{name:<60} {cost * 1e6:>10.1f} {cost / empty:>8.1f}")
    ok = full < 3 * empty
    print(f"  [{'ok' if ok else 'MISS'}] {args.resting:,} resting cost < 3x an empty book's tick")
    ok = many < 3 * few
    print(f"  [{'ok' if ok else 'MISS'}] {args.resting:,} crossed cost < 3x 20 crossed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
