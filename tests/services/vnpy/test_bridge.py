"""EventBridge over a real vnpy EventEngine: order, drops, failing subscribers, metrics."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import REGISTRY
from vnpy.event import Event

from backend.services.vnpy.bridge import EventBridge
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.types import BridgeEvent

from .conftest import WAIT

TICK_EVENT = "eTestTick."
ORDER_EVENT = "eTestOrder."
DONE_EVENT = "eTestDone"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def flush(bridge: EventBridge) -> None:
    async with asyncio.timeout(WAIT):
        await bridge.flush()


def block_loop_until_vnpy_has_run(event_engine: RedFireEventEngine) -> None:
    """Block the loop (so nothing drains) until vnpy has handled everything put so far."""
    done = threading.Event()
    event_engine.register(DONE_EVENT, lambda _event: done.set())
    event_engine.put(Event(DONE_EVENT))
    assert done.wait(WAIT)


async def test_events_arrive_in_order(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge(maxsize=10_000, batch_size=64)
    bridge.route(ORDER_EVENT, BridgeEvent.ORDER, lambda n: n * 10)
    received: list[int] = []

    async def on_order(value: int) -> None:
        received.append(value)

    bridge.subscribe(BridgeEvent.ORDER, on_order)
    bridge.start(event_engine, asyncio.get_running_loop())
    for n in range(5000):
        event_engine.put(Event(ORDER_EVENT, n))
    await flush(bridge)
    assert received == [n * 10 for n in range(5000)]
    assert bridge.delivered == 5000
    assert bridge.dropped == 0
    await bridge.stop()


async def test_a_full_bridge_drops_ticks_and_counts_them(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge(maxsize=10)
    bridge.route(TICK_EVENT, BridgeEvent.TICK)
    bridge.route(ORDER_EVENT, BridgeEvent.ORDER)
    ticks: list[int] = []
    orders: list[int] = []

    async def on_tick(value: int) -> None:
        ticks.append(value)

    async def on_order(value: int) -> None:
        orders.append(value)

    bridge.subscribe(BridgeEvent.TICK, on_tick)
    bridge.subscribe(BridgeEvent.ORDER, on_order)
    dropped_before = metric("redfire_event_bridge_dropped_total", event_type="tick")
    lag_before = metric("redfire_event_bridge_lag_seconds_count")
    bridge.start(event_engine, asyncio.get_running_loop())
    for n in range(25):
        event_engine.put(Event(TICK_EVENT, n))
    for n in range(15):  # orders may use a reserve up to twice maxsize: 20 waiting in all
        event_engine.put(Event(ORDER_EVENT, n))
    block_loop_until_vnpy_has_run(event_engine)
    await flush(bridge)

    assert ticks == list(range(10))
    assert orders == list(range(10))
    assert bridge.dropped == 15 + 5
    assert metric("redfire_event_bridge_dropped_total", event_type="tick") - dropped_before == 15
    assert metric("redfire_event_bridge_lag_seconds_count") > lag_before  # one per drain

    event_engine.put(Event(TICK_EVENT, 99))  # drained: room again
    await flush(bridge)
    assert ticks[-1] == 99
    await bridge.stop()


async def test_a_failing_subscriber_is_counted_and_does_not_stop_the_others(
    event_engine: RedFireEventEngine,
) -> None:
    bridge = EventBridge()
    bridge.route(TICK_EVENT, BridgeEvent.TICK)
    good: list[int] = []
    attempts: list[int] = []

    async def failing(value: int) -> None:
        attempts.append(value)
        raise RuntimeError("subscriber bug")

    async def working(value: int) -> None:
        good.append(value)

    errors_before = metric(
        "redfire_event_bridge_errors_total", event_type="tick", stage="subscriber"
    )
    bridge.subscribe(BridgeEvent.TICK, failing)
    bridge.subscribe(BridgeEvent.TICK, working)
    bridge.start(event_engine, asyncio.get_running_loop())
    for n in range(3):
        event_engine.put(Event(TICK_EVENT, n))
    await flush(bridge)
    assert good == attempts == [0, 1, 2]
    assert bridge.errors == 3
    after = metric("redfire_event_bridge_errors_total", event_type="tick", stage="subscriber")
    assert after - errors_before == 3
    await bridge.stop()


async def test_a_failing_translator_does_not_kill_vnpy(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge()
    bridge.route(TICK_EVENT, BridgeEvent.TICK, lambda n: 100 // n)
    received: list[int] = []

    async def on_tick(value: int) -> None:
        received.append(value)

    bridge.subscribe(BridgeEvent.TICK, on_tick)
    bridge.start(event_engine, asyncio.get_running_loop())
    for n in (1, 0, 4):
        event_engine.put(Event(TICK_EVENT, n))
    await flush(bridge)
    assert received == [100, 25]
    assert bridge.errors == 1
    await bridge.stop()


async def test_a_slow_subscriber_delays_only_itself(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge()
    bridge.route(TICK_EVENT, BridgeEvent.TICK)
    release = asyncio.Event()
    fast_got_all = asyncio.Event()
    slow: list[int] = []
    fast: list[int] = []

    async def slow_subscriber(value: int) -> None:
        await release.wait()
        slow.append(value)

    async def fast_subscriber(value: int) -> None:
        fast.append(value)
        if len(fast) == 3:
            fast_got_all.set()

    bridge.subscribe(BridgeEvent.TICK, slow_subscriber)
    bridge.subscribe(BridgeEvent.TICK, fast_subscriber)
    bridge.start(event_engine, asyncio.get_running_loop())
    for n in range(3):
        event_engine.put(Event(TICK_EVENT, n))
    await asyncio.wait_for(fast_got_all.wait(), WAIT)
    assert slow == []
    release.set()
    await flush(bridge)
    assert slow == [0, 1, 2]
    await bridge.stop()


async def test_unsubscribe_and_stop(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge()
    bridge.route(TICK_EVENT, BridgeEvent.TICK)
    received: list[int] = []

    async def on_tick(value: int) -> None:
        received.append(value)

    subscription = bridge.subscribe(BridgeEvent.TICK, on_tick)
    bridge.start(event_engine, asyncio.get_running_loop())
    event_engine.put(Event(TICK_EVENT, 1))
    await flush(bridge)
    subscription.cancel()
    event_engine.put(Event(TICK_EVENT, 2))
    await flush(bridge)
    assert received == [1]

    bridge.subscribe(BridgeEvent.TICK, on_tick)
    event_engine.put(Event(TICK_EVENT, 3))
    block_loop_until_vnpy_has_run(event_engine)
    await bridge.stop()  # delivers what was already buffered
    assert received == [1, 3]
    assert not bridge.running
    event_engine.put(Event(TICK_EVENT, 4))  # unregistered: vnpy no longer hands it over
    block_loop_until_vnpy_has_run(event_engine)
    assert received == [1, 3]


async def test_one_drain_is_scheduled_per_batch(event_engine: RedFireEventEngine) -> None:
    bridge = EventBridge(batch_size=10_000)
    bridge.route(TICK_EVENT, BridgeEvent.TICK)
    received: list[int] = []

    async def on_tick(value: int) -> None:
        received.append(value)

    bridge.subscribe(BridgeEvent.TICK, on_tick)
    loop = asyncio.get_running_loop()
    scheduled = 0
    original = loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> asyncio.Handle:
        # Only this bridge's drains: the loop is the session's, where the app's own market
        # ticks and worker threads schedule their callbacks too.
        nonlocal scheduled
        scheduled += args[0] == bridge._drain
        return original(*args, **kwargs)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        bridge.start(event_engine, loop)
        for n in range(1000):
            event_engine.put(Event(TICK_EVENT, n))
        block_loop_until_vnpy_has_run(event_engine)
        await flush(bridge)
    finally:
        del loop.call_soon_threadsafe
    assert received == list(range(1000))
    assert scheduled <= 2  # one for the 1000 ticks (the loop was blocked), one for the flush
    await bridge.stop()
