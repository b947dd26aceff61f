"""Benchmark: ticks into 20 live vnpy CTA strategies on one symbol, through the strategy engine.

Run: .venv/bin/python -m bench.bench_cta_live [--ticks N] [--strategies S] [--repeat R]

Twenty running `BreakoutBench` strategies (a CtaTemplate: BarGenerator + a tick-price window,
buying and shorting breakouts with limit orders) on rb2501.SHFE, loaded from a throwaway
SQLite database as in production and run by `StrategyEngine` in CtaStrategyHost adapters.
Orders are captured by a stand-in order port (the order service's own cost is bench_orders').

- throughput: every tick offered to `StrategyEngine.on_tick` as fast as it takes them
  (yielding every 256 ticks, as the bridge does), until all strategies handled all of them;
- latency: one tick at a time (the next once every strategy handled the last), from the
  tick's arrival at the engine to each order it causes reaching the order port: p50 / p99;
- the strategies alone: the same ticks as prebuilt vnpy TickData straight into 20 bare
  instances of the class on an engine that only counts orders. What RedFire adds per tick
  (the adapter: TickSnapshot -> TickData, stop-order check, order hand-off, the runner and
  engine fan-out) is the difference, shown beside the strategy's own cost.
The order count must be the same both ways (the adapter changes nothing the strategy sees).
Results: a table on stdout, JSON in bench/results/cta_live.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import BarData, TickData
from vnpy_ctastrategy import BarGenerator, CtaTemplate

from backend.core.cache.memory import MemoryCache
from backend.core.config.settings import DatabaseConfig, StrategyConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.migrations import upgrade
from backend.core.messaging import MemoryLeaseStore
from backend.domain.market import ContractInfo, OrderTicket, TickSnapshot
from backend.models.enums import OrderStatus, StrategyStatus, UserRole
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.services.cta.classes import cta_entry
from backend.services.cta.host import CtaLiveServices
from backend.services.cta.state import CtaVariableStore
from backend.services.cta.translate import TickTranslator
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.ports import PlacedOrder
from backend.services.strategy.registry import StrategyRegistry
from backend.services.strategy.runner import StrategyRunner
from bench.bench_strategy import SYMBOL, record_ticks

RESULTS = Path(__file__).resolve().parent / "results" / "cta_live.json"
CONTRACT = ContractInfo(
    symbol=SYMBOL, code="rb2501", exchange="SHFE", name="Rebar 2501", gateway="PAPER",
    price_tick=Decimal("0.5"), size=Decimal(10), min_volume=Decimal(1),
)  # fmt: skip


class BreakoutBench(CtaTemplate):
    """Buys above the highest of the last `window` tick prices, shorts below the lowest."""

    window: int = 40
    fixed_size: int = 1
    parameters = ["window", "fixed_size"]  # noqa: RUF012 (vnpy declares them as class lists)
    variables = ["bars"]  # noqa: RUF012
    bars: int = 0

    def on_init(self) -> None:
        self.bg = BarGenerator(self.on_bar)
        self.prices: deque[float] = deque(maxlen=self.window)

    def on_tick(self, tick: TickData) -> None:
        self.bg.update_tick(tick)
        prices = self.prices
        price = tick.last_price
        if len(prices) == prices.maxlen:
            if price > max(prices) and self.pos <= 0:
                self.buy(tick.ask_price_1, self.fixed_size)
            elif price < min(prices) and self.pos >= 0:
                self.short(tick.bid_price_1, self.fixed_size)
        prices.append(price)

    def on_bar(self, bar: BarData) -> None:
        self.bars += 1


class CapturingOrders:
    """The order port: notes when each order arrived, answers it filled (nothing stays open)."""

    def __init__(self) -> None:
        self.placed = 0
        self.arrivals: list[float] = []
        self.latencies: list[float] = []
        self._next_id = 0

    async def place_order(
        self, *, user_id: int, strategy_id: int, ticket: OrderTicket
    ) -> PlacedOrder:
        """Count it; with a tick in flight, its latency from the tick's arrival."""
        self._next_id += 1
        self.placed += 1
        if self.arrivals:
            self.latencies.append(time.perf_counter() - self.arrivals[-1])
        return PlacedOrder(order_id=self._next_id, status=OrderStatus.FILLED)

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Nothing stays open."""

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """Flat."""
        return Decimal(0)


async def prepare_database(directory: str, strategies: int) -> AsyncDatabaseManager:
    """A migrated SQLite file with `strategies` running BreakoutBench strategies."""
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    await asyncio.to_thread(upgrade, url)
    database = AsyncDatabaseManager(DatabaseConfig(url=url))
    async with database.session() as session:
        user = User(username="bench", email="bench@example.com", hashed_password="-")
        user.role = UserRole.TRADER
        session.add(user)
        await session.flush()
        for number in range(strategies):
            session.add(
                Strategy(
                    user_id=user.id, name=f"breakout-{number}", class_name="BreakoutBench",
                    symbol=SYMBOL, parameters={"window": 30 + number},
                    status=StrategyStatus.RUNNING,
                )
            )  # fmt: skip
    return database


async def started_engine(
    database: AsyncDatabaseManager, orders: CapturingOrders
) -> tuple[StrategyEngine, list[StrategyRunner]]:
    registry = StrategyRegistry(entries=[cta_entry(BreakoutBench, "bench")])
    services = CtaLiveServices(
        contracts=lambda symbol: CONTRACT if symbol == SYMBOL else None,
        variables=CtaVariableStore(database),
    )
    engine = StrategyEngine(
        config=StrategyConfig(), replica_id="bench", database=database, cache=MemoryCache(),
        leases=MemoryLeaseStore(), orders=orders, registry=registry, cta=services.host,
    )  # fmt: skip
    await engine.start()
    return engine, list(engine.runners.values())


async def run_throughput(
    database: AsyncDatabaseManager, ticks: list[TickSnapshot], strategies: int
) -> tuple[float, int]:
    """Seconds for every strategy to handle every tick, and the orders they placed."""
    orders = CapturingOrders()
    engine, runners = await started_engine(database, orders)
    assert len(runners) == strategies
    on_tick = engine.on_tick
    before = [runner.ticks_processed for runner in runners]  # counted on from the last run
    started = time.perf_counter()
    for index, tick in enumerate(ticks):
        await on_tick(tick)
        if not index & 255:
            await asyncio.sleep(0)
    await engine.flush()
    elapsed = time.perf_counter() - started
    handled = [runner.ticks_processed - done for runner, done in zip(runners, before, strict=True)]
    assert handled == [len(ticks)] * strategies
    await engine.stop()
    return elapsed, orders.placed


async def run_latency(
    database: AsyncDatabaseManager, ticks: list[TickSnapshot]
) -> tuple[list[float], int]:
    """Tick arrival -> order at the port, one tick in flight at a time."""
    orders = CapturingOrders()
    engine, _ = await started_engine(database, orders)
    for tick in ticks:
        orders.arrivals.append(time.perf_counter())
        await engine.on_tick(tick)
        await engine.flush()
    await engine.stop()
    return orders.latencies, orders.placed


class CountingEngine:
    """Just enough of an engine for bare strategies: orders are counted, nothing else."""

    def __init__(self) -> None:
        self.placed = 0

    def send_order(
        self, strategy: CtaTemplate, direction: Direction, offset: Offset, price: float,
        volume: float, stop: bool, lock: bool, net: bool,
    ) -> list[str]:  # fmt: skip
        """Counted."""
        self.placed += 1
        return [f"BENCH.{self.placed}"]

    def write_log(self, msg: str, strategy: Any = None) -> None:
        """Dropped."""

    def put_strategy_event(self, strategy: CtaTemplate) -> None:
        """Dropped."""


def run_bare(ticks: list[TickSnapshot], strategies: int) -> tuple[float, int]:
    """Seconds for `strategies` bare instances to take every (prebuilt) TickData."""
    translate = TickTranslator(SYMBOL)
    data = [translate(tick) for tick in ticks]
    engine = CountingEngine()
    instances = []
    for number in range(strategies):
        strategy = BreakoutBench(engine, f"bare-{number}", SYMBOL, {"window": 30 + number})
        strategy.on_init()
        strategy.inited = strategy.trading = True
        instances.append(strategy)
    started = time.perf_counter()
    for tick in data:
        for strategy in instances:
            strategy.on_tick(tick)
    return time.perf_counter() - started, engine.placed


@dataclass
class Row:
    """One line of the table."""

    measurement: str
    ticks: int
    seconds: float
    ticks_per_second: float
    microseconds_per_strategy_tick: float
    orders: int


async def measure(count: int, strategies: int, repeat: int, latency_ticks: int) -> dict[str, Any]:
    """Best of `repeat` of each, and the latency percentiles."""
    ticks = record_ticks(count)
    with tempfile.TemporaryDirectory() as directory:
        database = await prepare_database(directory, strategies)
        try:
            live = min([await run_throughput(database, ticks, strategies) for _ in range(repeat)])
            latencies, latency_orders = await run_latency(database, ticks[:latency_ticks])
        finally:
            await database.dispose()
    bare = min(run_bare(ticks, strategies) for _ in range(repeat))
    per = count * strategies
    rows = [
        Row(f"RedFire engine + CTA adapter, {strategies} strategies", count, live[0],
            count / live[0], live[0] / per * 1e6, live[1]),
        Row(f"the strategies alone (bare CtaTemplate, {strategies})", count, bare[0],
            count / bare[0], bare[0] / per * 1e6, bare[1]),
    ]  # fmt: skip
    adapter = (live[0] - bare[0]) / per * 1e6
    ordered = sorted(latencies)
    return {
        "rows": rows,
        "adapter_us_per_strategy_tick": adapter,
        "strategy_us_per_strategy_tick": bare[0] / per * 1e6,
        "latency_ticks": latency_ticks,
        "latency_orders": latency_orders,
        "p50_ms": statistics.median(ordered) * 1e3 if ordered else float("nan"),
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1e3 if ordered else float("nan"),
        "identical_orders": live[1] == bare[1],
    }


def report(result: dict[str, Any]) -> bool:
    """Print the table; True when both ways placed the same orders."""
    print(f"{'measurement':54} {'ticks':>7} {'seconds':>8} {'ticks/s':>9} "
          f"{'us/strategy-tick':>17} {'orders':>7}")  # fmt: skip
    for row in result["rows"]:
        print(f"{row.measurement:54} {row.ticks:>7} {row.seconds:>8.3f} "
              f"{row.ticks_per_second:>9,.0f} {row.microseconds_per_strategy_tick:>17.2f} "
              f"{row.orders:>7}")  # fmt: skip
    print(f"per strategy and tick: strategy {result['strategy_us_per_strategy_tick']:.2f} us, "
          f"adapter + engine {result['adapter_us_per_strategy_tick']:.2f} us")  # fmt: skip
    print(f"tick -> order latency (one tick in flight, {result['latency_ticks']} ticks, "
          f"{result['latency_orders']} orders): p50 {result['p50_ms']:.3f} ms, "
          f"p99 {result['p99_ms']:.3f} ms")  # fmt: skip
    print(f"same orders with and without the adapter: "
          f"{'yes' if result['identical_orders'] else 'NO'}")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {**result, "rows": [asdict(row) for row in result["rows"]]}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return bool(result["identical_orders"])


def main() -> int:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--strategies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ticks", type=int, default=5_000)
    arguments = parser.parse_args()
    result = asyncio.run(
        measure(arguments.ticks, arguments.strategies, arguments.repeat, arguments.latency_ticks)
    )
    return 0 if report(result) else 1


if __name__ == "__main__":
    sys.exit(main())
