"""Benchmark: recorded ticks -> StrategyEngine -> MovingAverageStrategy, vs. vnpy's ArrayManager.

Run: .venv/bin/python bench/bench_strategy.py [--ticks N] [--repeat R]

RedFire: the ticks go straight into `StrategyEngine.on_tick` (one running
MovingAverageStrategy, loaded from a throwaway SQLite database as in production; orders are
captured by a stand-in order port, not sent), yielding to the loop every 256 ticks as the
vnpy bridge does. Baseline: per price, vnpy's `ArrayManager.update_bar` and two `sma()` calls,
then DoubleMaStrategy's crossover test. Both sides get their inputs pre-built (TickSnapshot /
BarData), so only the signal computation is timed. The prices sit on a 0.5 grid, exact in
binary floating point, so talib's float sums are exact and the signals must be identical.
Results: a table on stdout, JSON in bench/results/strategy.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from vnpy.trader.constant import Exchange
from vnpy.trader.object import BarData
from vnpy.trader.utility import ArrayManager

from backend.core.cache.memory import MemoryCache
from backend.core.config.settings import DatabaseConfig, StrategyConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.migrations import upgrade
from backend.core.messaging import MemoryLeaseStore
from backend.domain.market import OrderTicket, TickSnapshot
from backend.models.enums import OrderSide, OrderStatus, StrategyStatus, UserRole
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.ports import PlacedOrder

RESULTS = Path(__file__).resolve().parent / "results" / "strategy.json"
SYMBOL, CODE, EXCHANGE = "rb2501.SHFE", "rb2501", Exchange.SHFE
FAST, SLOW, WARMUP = 10, 20, 100  # DoubleMaStrategy's defaults and ArrayManager's size
TARGET_RATE, TARGET_RATIO = 300_000, 3.0
Signal = tuple[int, str]


def record_ticks(count: int, seed: int = 20260105) -> list[TickSnapshot]:
    """A deterministic random walk on a 0.5 price grid, as a recorded session of ticks."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    price, step, ticks = Decimal(3500), Decimal("0.5"), []
    for index in range(count):
        price = max(step, price + step * rng.choice((-2, -1, -1, 0, 0, 1, 1, 2)))
        size = Decimal(rng.randint(1, 20))
        ticks.append(
            TickSnapshot(
                symbol=SYMBOL, gateway="PAPER", last_price=price, bid_price_1=price - step,
                ask_price_1=price + step, bid_volume_1=size, ask_volume_1=size,
                volume=Decimal(index), datetime=start + timedelta(milliseconds=500 * index),
            )
        )  # fmt: skip
    return ticks


class CapturingOrders:
    """The order port, capturing orders instead of sending them."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.tick_index = lambda: 0
        self._next_id = 0

    async def place_order(
        self, *, user_id: int, strategy_id: int, ticket: OrderTicket
    ) -> PlacedOrder:
        """Record which tick signalled which side; answered final, so nothing stays open."""
        self._next_id += 1
        self.signals.append((self.tick_index(), ticket.side.value))
        return PlacedOrder(order_id=self._next_id, status=OrderStatus.FILLED)

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Nothing was sent, so nothing to cancel."""

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """Flat: the captured orders never fill, so every crossover is one order."""
        return Decimal(0)


async def prepare_database(directory: str) -> AsyncDatabaseManager:
    """A migrated SQLite file with one running MovingAverageStrategy."""
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    await asyncio.to_thread(upgrade, url)
    database = AsyncDatabaseManager(DatabaseConfig(url=url))
    async with database.session() as session:
        user = User(username="bench", email="bench@example.com", hashed_password="-")
        user.role = UserRole.TRADER
        session.add(user)
        await session.flush()
        session.add(
            Strategy(
                user_id=user.id, name="ma", class_name="MovingAverageStrategy", symbol=SYMBOL,
                parameters={"fast_window": FAST, "slow_window": SLOW, "warmup_ticks": WARMUP},
                status=StrategyStatus.RUNNING,
            )
        )  # fmt: skip
    return database


async def run_redfire(
    database: AsyncDatabaseManager, ticks: list[TickSnapshot]
) -> tuple[float, list[Signal]]:
    """Seconds to process every tick through a fresh engine, and the signals it gave."""
    orders = CapturingOrders()
    engine = StrategyEngine(
        config=StrategyConfig(), replica_id="bench", database=database, cache=MemoryCache(),
        leases=MemoryLeaseStore(), orders=orders,
    )  # fmt: skip
    await engine.start()
    [runner] = engine.runners.values()
    # The count goes on from what the strategy last reported (an earlier repeat's run).
    counted_before = runner.ticks_processed
    orders.tick_index = lambda: runner.ticks_processed - counted_before
    on_tick = engine.on_tick
    started = time.perf_counter()
    for index, tick in enumerate(ticks):
        await on_tick(tick)
        if not index & 255:
            await asyncio.sleep(0)
    await engine.flush()
    elapsed = time.perf_counter() - started
    assert runner.ticks_processed - counted_before == len(ticks)
    await engine.stop()
    return elapsed, orders.signals


def run_vnpy(ticks: list[TickSnapshot]) -> tuple[float, list[Signal]]:
    """Seconds for ArrayManager.update_bar + two sma() per price, and DoubleMa's signals."""
    bars = [
        BarData(
            gateway_name="PAPER", symbol=CODE, exchange=EXCHANGE, datetime=tick.datetime,
            open_price=float(tick.last_price), high_price=float(tick.last_price),
            low_price=float(tick.last_price), close_price=float(tick.last_price),
        )
        for tick in ticks
    ]  # fmt: skip
    manager, signals = ArrayManager(), []
    started = time.perf_counter()
    for index, bar in enumerate(bars):
        manager.update_bar(bar)
        if not manager.inited:
            continue
        fast_ma = manager.sma(FAST, array=True)
        slow_ma = manager.sma(SLOW, array=True)
        if fast_ma[-1] > slow_ma[-1] and fast_ma[-2] < slow_ma[-2]:
            signals.append((index, OrderSide.BUY.value))
        elif fast_ma[-1] < slow_ma[-1] and fast_ma[-2] > slow_ma[-2]:
            signals.append((index, OrderSide.SELL.value))
    return time.perf_counter() - started, signals


@dataclass
class Row:
    """One line of the table."""

    implementation: str
    ticks: int
    seconds: float
    ticks_per_second: float
    signals: int


async def measure(count: int, repeat: int) -> tuple[Row, Row, bool]:
    """Best of `repeat` runs of each side, and whether their signals agree."""
    ticks = record_ticks(count)
    with tempfile.TemporaryDirectory() as directory:
        database = await prepare_database(directory)
        try:
            redfire = [await run_redfire(database, ticks) for _ in range(repeat)]
        finally:
            await database.dispose()
    vnpy = [run_vnpy(ticks) for _ in range(repeat)]
    ours, theirs = min(redfire)[0], min(vnpy)[0]
    rows = (
        Row("RedFire StrategyEngine + MovingAverageStrategy", count, ours, count / ours,
            len(redfire[0][1])),
        Row("vnpy ArrayManager.update_bar + 2x sma() (DoubleMaStrategy)", count, theirs,
            count / theirs, len(vnpy[0][1])),
    )  # fmt: skip
    return rows[0], rows[1], redfire[0][1] == vnpy[0][1]


def report(redfire: Row, vnpy: Row, identical: bool) -> bool:
    """Print the table; True when every target is met."""
    ratio = redfire.ticks_per_second / vnpy.ticks_per_second
    print(f"{'implementation':62} {'ticks':>9} {'seconds':>8} {'ticks/s':>11} {'signals':>8}")
    for row in (redfire, vnpy):
        print(
            f"{row.implementation:62} {row.ticks:>9} {row.seconds:>8.3f} "
            f"{row.ticks_per_second:>11,.0f} {row.signals:>8}"
        )
    rate_ok = redfire.ticks_per_second >= TARGET_RATE
    ratio_ok = ratio >= TARGET_RATIO
    print(f"ratio RedFire / vnpy: {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: "
          f"{'PASS' if ratio_ok else 'FAIL'})")  # fmt: skip
    print(f"RedFire throughput target >= {TARGET_RATE:,} ticks/s: {'PASS' if rate_ok else 'FAIL'}")
    print(f"crossover signals identical: {'yes' if identical else 'NO'}")
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {"rows": [asdict(redfire), asdict(vnpy)], "ratio": ratio, "identical": identical}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return rate_ok and ratio_ok and identical


def main() -> int:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    redfire, vnpy, identical = asyncio.run(measure(arguments.ticks, arguments.repeat))
    return 0 if report(redfire, vnpy, identical) else 1


if __name__ == "__main__":
    sys.exit(main())
