"""EventBridge: vnpy events (on vnpy's worker thread) -> async subscribers (on the asyncio loop).

Neither side ever waits for the other. The vnpy side appends to a bounded deque and, only
when no drain is pending, schedules one with `call_soon_threadsafe` (for ticks on a
RedFireEventEngine only once vnpy's thread has run out of events or WAKE_BATCH wait, so a
run of ticks costs one wake-up); the loop side drains in batches into one FIFO per
subscriber, each served by its own task, so a slow subscriber delays only itself.
Everything is FIFO, so each order's updates arrive in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload

import structlog
from vnpy.event import Event, EventEngine
from vnpy.event.engine import HandlerType

from backend.core.monitoring.metrics import (
    BRIDGE_DROPPED,
    BRIDGE_ERRORS,
    BRIDGE_EVENTS,
    BRIDGE_LAG,
    BRIDGE_QUEUE_DEPTH,
)
from backend.services.vnpy.event_engine import RedFireEventEngine
from backend.services.vnpy.subscription import Barrier, Subscription
from backend.services.vnpy.types import (
    BridgeEvent,
    ContractInfo,
    OrderUpdate,
    TickSnapshot,
    TradeFill,
)

logger = structlog.get_logger(__name__)

Translator = Callable[[Any], object | None]
# Orders, trades and contracts change state and money; ticks are superseded by the next one.
# So ticks are dropped once `maxsize` events wait, the others only beyond twice that.
CRITICAL_KINDS = frozenset({BridgeEvent.ORDER, BridgeEvent.TRADE, BridgeEvent.CONTRACT})
_BARRIER_KIND = "barrier"
_BARRIER_EVENT = "eRedFireBridgeBarrier"
_ERROR_LOG_INTERVAL = 1.0
# On a RedFireEventEngine the loop is woken for ticks when vnpy's thread runs out of events,
# or once this many wait, whichever comes first; for orders, trades and contracts, and on
# other event engines, on the first event of each batch.
WAKE_BATCH = 256


class EventBridge:
    """Carries vnpy events into asyncio without blocking either side (see module docstring)."""

    def __init__(
        self, *, maxsize: int = 100_000, batch_size: int = 4096, stop_timeout: float = 2.0
    ) -> None:
        self._maxsize = maxsize
        self._stop_timeout = stop_timeout
        self._batch_size = batch_size
        self._buffer: deque[tuple[str, Any, float]] = deque()
        self._scheduled = False
        self._wake_batch = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event_engine: EventEngine | None = None
        self._routes: list[tuple[str, str, Translator | None]] = []
        self._handlers: list[tuple[str, HandlerType]] = []
        self._subscriptions: dict[str, list[Subscription]] = {}
        self._drain_hooks: list[Callable[[], None]] = []
        self._event_counters: dict[str, Any] = {}  # BRIDGE_EVENTS children, bound once
        # Counted on the vnpy thread (_in) or the loop (_out) only, so no lock is needed.
        self._dropped_in = 0
        self._dropped_out = 0
        self._errors_in = 0
        self._errors_out = 0
        self.delivered = 0

    @property
    def dropped(self) -> int:
        """Events dropped because the bridge or a subscriber's queue was full."""
        return self._dropped_in + self._dropped_out

    @property
    def errors(self) -> int:
        """Events a translator or a subscriber failed on."""
        return self._errors_in + self._errors_out

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._loop is not None

    def route(self, vnpy_type: str, kind: str, translate: Translator | None = None) -> None:
        """Deliver vnpy events of `vnpy_type` as `kind`, translated on vnpy's thread first."""
        if self.running:
            raise RuntimeError("routes must be added before the bridge starts")
        self._routes.append((vnpy_type, kind, translate))

    def on_drain(self, hook: Callable[[], None]) -> None:
        """Call `hook()` on the loop after each batch is handed out (e.g. to publish metrics).

        Everything a batch contained has been counted and queued to its subscribers by
        then, so values the vnpy thread accumulates are current once flush() returns.
        """
        self._drain_hooks.append(hook)

    @overload
    def subscribe(
        self, kind: Literal[BridgeEvent.TICK], callback: Callable[[TickSnapshot], Awaitable[None]]
    ) -> Subscription: ...
    @overload
    def subscribe(
        self, kind: Literal[BridgeEvent.ORDER], callback: Callable[[OrderUpdate], Awaitable[None]]
    ) -> Subscription: ...
    @overload
    def subscribe(
        self, kind: Literal[BridgeEvent.TRADE], callback: Callable[[TradeFill], Awaitable[None]]
    ) -> Subscription: ...
    @overload
    def subscribe(
        self,
        kind: Literal[BridgeEvent.CONTRACT],
        callback: Callable[[ContractInfo], Awaitable[None]],
    ) -> Subscription: ...
    @overload
    def subscribe(self, kind: str, callback: Callable[[Any], Awaitable[None]]) -> Subscription: ...
    def subscribe(self, kind: str, callback: Callable[[Any], Awaitable[None]]) -> Subscription:
        """Call `await callback(payload)` for each event of `kind`, in order (loop thread only)."""
        subscription = Subscription(self, kind, callback, self._limit(kind))
        self._subscriptions.setdefault(kind, []).append(subscription)
        if self._loop is not None:
            self._start_consumer(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to `subscription` (loop thread only)."""
        subscribers = self._subscriptions.get(subscription.kind, [])
        if subscription in subscribers:
            subscribers.remove(subscription)
        if subscription.task is not None:
            subscription.task.cancel()
            subscription.task = None
        self._release_barriers(subscription)

    def start(self, event_engine: EventEngine, loop: asyncio.AbstractEventLoop) -> None:
        """Register on `event_engine` and deliver into `loop`; a no-op when running."""
        if self._loop is not None:
            return
        self._loop = loop
        self._event_engine = event_engine
        if isinstance(event_engine, RedFireEventEngine):
            # Waking the loop costs a syscall and hands it the GIL mid-run: do it when vnpy
            # has nothing left to dispatch, before its thread blocks anyway.
            self._wake_batch = WAKE_BATCH
            event_engine.add_idle_hook(self._on_vnpy_idle)
        for vnpy_type, kind, translate in self._routes:
            handler = self._make_handler(kind, translate)
            event_engine.register(vnpy_type, handler)
            self._handlers.append((vnpy_type, handler))
        event_engine.register(_BARRIER_EVENT, self._on_barrier_event)
        self._handlers.append((_BARRIER_EVENT, self._on_barrier_event))
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                self._start_consumer(subscription)

    async def stop(self) -> None:
        """Unregister from vnpy, deliver what is already buffered (up to stop_timeout), stop."""
        if self._loop is None:
            return
        if self._event_engine is not None:
            for vnpy_type, handler in self._handlers:
                self._event_engine.unregister(vnpy_type, handler)
            if isinstance(self._event_engine, RedFireEventEngine):
                self._event_engine.remove_idle_hook(self._on_vnpy_idle)
        self._handlers.clear()
        self._wake_batch = 1
        self._event_engine = None
        try:
            async with asyncio.timeout(self._stop_timeout):
                await self.flush()
        except TimeoutError:
            logger.warning("event_bridge_subscribers_busy_at_stop", timeout=self._stop_timeout)
        tasks = [s.task for subs in self._subscriptions.values() for s in subs if s.task]
        for subscription in (s for subs in self._subscriptions.values() for s in subs):
            if subscription.task is not None:
                subscription.task.cancel()
                subscription.task = None
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None

    async def flush(self) -> None:
        """Wait until everything vnpy queued before this call has been through every callback.

        Unbounded: wrap it in `asyncio.timeout()`.
        """
        loop = asyncio.get_running_loop()
        barrier = Barrier(loop.create_future())
        if self._event_engine is not None:
            # Through vnpy's queue, so events vnpy has not dispatched yet are waited for too.
            self._event_engine.put(Event(_BARRIER_EVENT, barrier))
        else:
            self._push(_BARRIER_KIND, barrier)
        await barrier.future

    # vnpy thread

    def _limit(self, kind: str) -> int:
        return self._maxsize * 2 if kind in CRITICAL_KINDS else self._maxsize

    def _make_handler(self, kind: str, translate: Translator | None) -> HandlerType:
        limit = self._limit(kind)
        dropped = BRIDGE_DROPPED.labels(kind)
        failed = BRIDGE_ERRORS.labels(kind, "translate")

        buffer = self._buffer
        clock = time.perf_counter
        immediate = kind in CRITICAL_KINDS  # orders and trades never wait for vnpy to idle

        def handle(event: Event) -> None:  # every tick: _push written out
            if len(buffer) >= limit:
                self._dropped_in += 1
                dropped.inc()
                return
            try:
                payload = event.data if translate is None else translate(event.data)
            except Exception:
                self._errors_in += 1
                failed.inc()
                logger.exception("event_bridge_translation_failed", kind=str(kind))
                return
            if payload is not None:
                buffer.append((kind, payload, clock()))
                if not self._scheduled and (immediate or len(buffer) >= self._wake_batch):
                    self._schedule()

        return handle

    def _on_vnpy_idle(self) -> None:
        if self._buffer and not self._scheduled:
            self._schedule()

    def _on_barrier_event(self, event: Event) -> None:
        self._push(_BARRIER_KIND, event.data)

    def _push(self, kind: str, payload: Any) -> None:
        self._buffer.append((kind, payload, time.perf_counter()))
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        loop = self._loop
        self._scheduled = True
        try:
            if loop is None:
                raise RuntimeError("bridge is not running")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # loop closed: keep the events, the limit bounds them
            self._scheduled = False

    # loop thread

    def _drain(self) -> None:
        self._scheduled = False
        buffer = self._buffer
        count = min(len(buffer), self._batch_size)
        if count:
            # One lag sample per drain, of its oldest event (the batch's worst lag): observing
            # every event cost as much as the rest of the drain.
            BRIDGE_LAG.observe(time.perf_counter() - buffer[0][2])
        woken: dict[Subscription, None] = {}
        per_kind: dict[str, int] = {}
        subscriptions = self._subscriptions
        popleft = buffer.popleft
        # Events come in runs of one kind (ticks): look subscribers up once per run.
        run_kind = _BARRIER_KIND
        run = 0
        targets: list[Subscription] = []
        for _ in range(count):
            kind, payload, _born = popleft()
            if kind != run_kind:
                if run:
                    per_kind[run_kind] = per_kind.get(run_kind, 0) + run
                    run = 0
                run_kind = kind
                if kind == _BARRIER_KIND:
                    self._fan_out_barrier(payload, woken)
                    continue
                targets = subscriptions.get(kind, [])
                for subscription in targets:
                    woken[subscription] = None
            elif kind == _BARRIER_KIND:
                self._fan_out_barrier(payload, woken)
                continue
            run += 1
            for subscription in targets:
                if len(subscription.items) < subscription.limit:
                    subscription.items.append(payload)
                else:
                    self._dropped_out += 1
                    BRIDGE_DROPPED.labels(kind).inc()
        if run:
            per_kind[run_kind] = per_kind.get(run_kind, 0) + run
        self._after_drain(woken, per_kind)

    def _after_drain(self, woken: dict[Subscription, None], per_kind: dict[str, int]) -> None:
        for subscription in woken:
            subscription.wakeup.set()
        for kind, events in per_kind.items():
            counter = self._event_counters.get(kind)
            if counter is None:
                counter = self._event_counters[kind] = BRIDGE_EVENTS.labels(kind)
            counter.inc(events)
            self.delivered += events
        BRIDGE_QUEUE_DEPTH.set(len(self._buffer))
        if self._buffer and not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._drain)
        for hook in self._drain_hooks:
            try:
                hook()
            except Exception:
                logger.exception("event_bridge_drain_hook_failed", hook=repr(hook))

    def _fan_out_barrier(self, barrier: Barrier, woken: dict[Subscription, None]) -> None:
        subscribers = [s for subs in self._subscriptions.values() for s in subs if s.task]
        barrier.pending = len(subscribers)
        if not subscribers:
            barrier.pending = 1
            barrier.arrive()
        for subscription in subscribers:
            subscription.items.append(barrier)
            woken[subscription] = None

    def _release_barriers(self, subscription: Subscription) -> None:
        for item in subscription.items:
            if isinstance(item, Barrier):
                item.arrive()

    def _start_consumer(self, subscription: Subscription) -> None:
        assert self._loop is not None
        if subscription.task is None:
            subscription.wakeup = asyncio.Event()  # bound to this loop on first wait
            subscription.task = self._loop.create_task(subscription.run(self._subscriber_failed))
            if subscription.items:
                subscription.wakeup.set()

    def _subscriber_failed(self, subscription: Subscription) -> None:
        self._errors_out += 1
        BRIDGE_ERRORS.labels(subscription.kind, "subscriber").inc()
        now = time.monotonic()
        if now - subscription.last_error_log >= _ERROR_LOG_INTERVAL:
            subscription.last_error_log = now
            logger.exception(
                "event_bridge_subscriber_failed",
                kind=str(subscription.kind),
                subscriber=repr(subscription.callback),
            )
