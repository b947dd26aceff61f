"""Benchmark: PAPER ticks -> vnpy EventEngine -> asyncio subscriber, EventBridge vs. naive.

Run: .venv/bin/python bench/bench_bridge.py [--ticks N] [--rate R]

A thread injects ticks into the PAPER gateway (vnpy TickData through vnpy's EventEngine);
each pipeline translates them to TickSnapshot and hands them to one async subscriber,
which measures the delay since the tick was created. Two load shapes:
burst (a tight loop: maximum throughput, latency includes the queue that builds up) and
paced (R ticks/s in 1 ms slices: latency at a sustained rate).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from vnpy.event import Event
from vnpy.event.engine import HandlerType
from vnpy.trader.constant import Exchange
from vnpy.trader.event import EVENT_TICK
from vnpy.trader.object import TickData

from backend.core.config.settings import ContractConfig, VnpyConfig
from backend.services.vnpy.bridge import EventBridge
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.gateways import paper_setting
from backend.services.vnpy.paper_gateway import PaperGateway
from backend.services.vnpy.translate import to_tick_snapshot
from backend.services.vnpy.types import BridgeEvent, TickSnapshot

VT_SYMBOL = "IF2412.CFFEX"
PRICES = [Decimal("3500.0") + Decimal("0.2") * i for i in range(50)]
FLOATS = [float(price) for price in PRICES]
SLICE = 0.001  # paced mode sends rate * SLICE ticks every SLICE seconds


def bench_config() -> VnpyConfig:
    """One PAPER contract, no generated ticks."""
    contract = ContractConfig(
        symbol="IF2412",
        exchange="CFFEX",
        price_tick=Decimal("0.2"),
        size=Decimal(300),
        initial_price=Decimal("3500.0"),
    )
    return VnpyConfig(paper_contracts=[contract], paper_tick_interval=0, event_queue_size=1_000_000)


@dataclass
class Result:
    """One row of the table."""

    pipeline: str
    mode: str
    ticks: int
    seconds: float
    latencies: list[float]
    dropped: int

    def row(self) -> str:
        """The row, formatted."""
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000
        rate = self.ticks / self.seconds
        return (
            f"{self.pipeline:<44} {self.mode:<6} {self.ticks:>7} {rate:>9,.0f} "
            f"{p50:>8.2f} {p99:>8.2f} {lat[-1] * 1000:>8.2f} {self.dropped:>7}"
        )


class Sink:
    """The async subscriber: records each tick's arrival; `done` once `expected` arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.since = datetime.max.replace(tzinfo=UTC)  # ignores ticks made before measuring
        self.arrivals: list[tuple[datetime, float]] = []
        self.done = asyncio.Event()

    async def __call__(self, tick: TickSnapshot) -> None:
        if tick.datetime < self.since:
            return
        self.arrivals.append((tick.datetime, time.time()))  # ages are computed afterwards
        if len(self.arrivals) >= self.expected:
            self.done.set()

    @property
    def latencies(self) -> list[float]:
        """Seconds from each tick's creation to its delivery."""
        return [arrived - created.timestamp() for created, arrived in self.arrivals]


def make_producer(paper: PaperGateway, via: str) -> Callable[[int], None]:
    """One tick per call: through PAPER's inject_tick, or a bare TickData + on_tick."""
    if via == "inject_tick":

        def inject(n: int) -> None:
            paper.inject_tick(VT_SYMBOL, last_price=PRICES[n % 50], moment=datetime.now(UTC))

        return inject

    def on_tick(n: int) -> None:  # what any vnpy gateway does with a market data callback
        price = FLOATS[n % 50]
        paper.on_tick(
            TickData(
                gateway_name="PAPER",
                symbol="IF2412",
                exchange=Exchange.CFFEX,
                datetime=datetime.now(UTC),
                last_price=price,
                bid_price_1=price,
                ask_price_1=price + 0.2,
                bid_volume_1=10,
                ask_volume_1=10,
            )
        )

    return on_tick


def produce(produce_one: Callable[[int], None], ticks: int, rate: float | None) -> None:
    """Push `ticks` ticks, as fast as possible or at `rate` per second in 1 ms slices."""
    per_slice = ticks if rate is None else max(1, int(rate * SLICE))
    deadline = time.perf_counter()
    sent = 0
    while sent < ticks:
        for n in range(sent, min(sent + per_slice, ticks)):
            produce_one(n)
        sent = min(sent + per_slice, ticks)
        deadline += SLICE
        pause = deadline - time.perf_counter()
        if rate is not None and pause > 0:
            time.sleep(pause)  # load shaping of the generator, not synchronisation


async def measure(
    name: str, producer: Callable[[int], None], sink: Sink, rate: float | None
) -> tuple[str, str, float, list[float]]:
    """Produce from a thread and wait for the sink to have everything."""
    thread = threading.Thread(target=produce, args=(producer, sink.expected, rate), daemon=True)
    sink.since = datetime.now(UTC)
    start = time.perf_counter()
    thread.start()
    await asyncio.wait_for(sink.done.wait(), timeout=120)
    seconds = time.perf_counter() - start
    thread.join()
    return name, "burst" if rate is None else "paced", seconds, sink.latencies


def raw_paper(event_engine: RedFireEventEngine) -> PaperGateway:
    """A PAPER gateway on a bare event engine (no MainEngine), connected."""
    paper = PaperGateway(event_engine, "PAPER")
    paper.connect(paper_setting(bench_config()))
    return paper


def naive_handler(kind: str, loop: asyncio.AbstractEventLoop, sink: Sink) -> HandlerType:
    """A vnpy handler that crosses threads once per event, the way the reference guide does."""
    if kind == "run_coroutine_threadsafe":

        def per_event(event: Event) -> None:
            asyncio.run_coroutine_threadsafe(sink(to_tick_snapshot(event.data)), loop)

        return per_event
    queue: asyncio.Queue[TickSnapshot] = asyncio.Queue()

    async def consume() -> None:
        while True:
            await sink(await queue.get())

    CONSUMERS.append(loop.create_task(consume()))

    def per_event_queue(event: Event) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, to_tick_snapshot(event.data))

    return per_event_queue


CONSUMERS: list[asyncio.Task[None]] = []


async def run_naive(kind: str, ticks: int, rate: float | None) -> Result:
    """Baseline: one cross-thread call per event, ticks from a bare on_tick."""
    event_engine = RedFireEventEngine()
    event_engine.start()
    sink = Sink(ticks)
    try:
        event_engine.register(EVENT_TICK, naive_handler(kind, asyncio.get_running_loop(), sink))
        producer = make_producer(raw_paper(event_engine), "on_tick")
        row = await measure(f"naive {kind} / on_tick", producer, sink, rate)
        return Result(*row[:2], ticks, row[2], row[3], 0)
    finally:
        event_engine.stop()
        for task in CONSUMERS:
            task.cancel()
        CONSUMERS.clear()


async def run_bridge(ticks: int, rate: float | None, via: str) -> Result:
    """EventBridge alone on a bare vnpy event engine."""
    event_engine = RedFireEventEngine()
    event_engine.start()
    bridge = EventBridge(maxsize=1_000_000)
    bridge.route(EVENT_TICK, BridgeEvent.TICK, to_tick_snapshot)
    sink = Sink(ticks)
    bridge.subscribe(BridgeEvent.TICK, sink)
    bridge.start(event_engine, asyncio.get_running_loop())
    try:
        producer = make_producer(raw_paper(event_engine), via)
        row = await measure(f"EventBridge / {via}", producer, sink, rate)
        return Result(*row[:2], ticks, row[2], row[3], bridge.dropped)
    finally:
        event_engine.stop()
        await bridge.stop()


async def run_engine(ticks: int, rate: float | None) -> Result:
    """The whole RedFireVnPyEngine: MainEngine, OMS cache, tick metric, bridge."""
    engine = RedFireVnPyEngine(bench_config())
    sink = Sink(ticks)
    await engine.start()
    try:
        engine.bridge.subscribe(BridgeEvent.TICK, sink)
        producer = make_producer(engine.paper_gateway(), "inject_tick")
        row = await measure("RedFireVnPyEngine / inject_tick", producer, sink, rate)
        return Result(*row[:2], ticks, row[2], row[3], engine.bridge.dropped)
    finally:
        await engine.stop()


async def main(ticks: int, rate: float) -> None:
    """Run every pipeline in both modes and print the table."""
    print(
        f"{'pipeline / producer':<44} {'mode':<6} {'ticks':>7} {'ticks/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'dropped':>7}"
    )
    for mode_rate in (None, rate):
        runs = [
            run_bridge(ticks, mode_rate, "on_tick"),
            run_bridge(ticks, mode_rate, "inject_tick"),
            run_engine(ticks, mode_rate),
            run_naive("call_soon_threadsafe", ticks, mode_rate),
            run_naive("run_coroutine_threadsafe", ticks, mode_rate),
        ]
        for run in runs:
            print((await run).row(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50_000.0)
    args = parser.parse_args()
    asyncio.run(main(args.ticks, args.rate))
