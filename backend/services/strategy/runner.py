"""StrategyRunner: one running strategy, fed its events strictly in order by its own task."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from backend.core.monitoring.metrics import STRATEGY_TICKS
from backend.services.strategy.base import BaseStrategy
from backend.services.vnpy.types import OrderUpdate, TickSnapshot, TradeFill

logger = structlog.get_logger(__name__)

# Let other tasks run at least every this many events while a backlog drains.
_YIELD_EVERY = 256


@dataclass(frozen=True, slots=True)
class StrategyRecord:
    """What the engine needs of a Strategy row, detached from any session."""

    id: int
    user_id: int
    name: str
    class_name: str
    symbol: str
    parameters: dict[str, Any]
    # Where the counters resume from: what the last runner reported.
    ticks_processed: int = 0
    orders_placed: int = 0


@dataclass(frozen=True, slots=True)
class StrategyProgress:
    """What a runner reports of its strategy, kept with the strategy's row."""

    strategy_id: int
    ticks_processed: int
    orders_placed: int
    position: Decimal
    last_update: datetime | None


class StrategyBacklogError(RuntimeError):
    """The strategy fell too far behind its events."""


FailureHandler = Callable[["StrategyRunner", BaseException], None]
Event = TickSnapshot | TradeFill | tuple[OrderUpdate, int | None]


class StrategyRunner:
    """Queues a strategy's events and feeds them one at a time, so a slow order placement
    delays only this strategy, never reorders its ticks, and its exceptions stay its own."""

    __slots__ = (
        "_idle_waiters",
        "_on_failure",
        "_published",
        "_tick_counter",
        "_waiter",
        "closing",
        "inbox",
        "lease_until",
        "max_backlog",
        "record",
        "strategy",
        "task",
        "ticks_processed",
    )

    def __init__(
        self,
        record: StrategyRecord,
        strategy: BaseStrategy,
        *,
        on_failure: FailureHandler,
        max_backlog: int = 100_000,
    ) -> None:
        self.record = record
        self.strategy = strategy
        self.inbox: deque[Event] = deque()
        self.max_backlog = max_backlog
        self.closing = False
        self.lease_until = 0.0
        self.task: asyncio.Task[None] | None = None
        self._on_failure = on_failure
        self._waiter: asyncio.Future[None] | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._tick_counter = STRATEGY_TICKS.labels(strategy_id=str(record.id))
        # The count goes on from the last report; the metric counts this process's ticks.
        self.ticks_processed = self._published = record.ticks_processed

    @property
    def idle(self) -> bool:
        """True when every queued event has been handled."""
        return not self.inbox and (
            self._waiter is not None or self.task is None or self.task.done()
        )

    async def wait_idle(self) -> None:
        """Return once every event queued so far has been handled."""
        loop = asyncio.get_running_loop()
        while not self.idle:
            idle: asyncio.Future[None] = loop.create_future()
            self._idle_waiters.append(idle)
            await idle

    def start(self) -> None:
        """Start the feeding task."""
        self.task = asyncio.create_task(self._work(), name=f"strategy-{self.record.id}")

    def offer(self, event: Event) -> None:
        """Queue one event (the hot path: no await, no allocation beyond the deque slot)."""
        inbox = self.inbox
        inbox.append(event)
        if self._waiter is not None:
            self.offer_wakeup()
        elif len(inbox) > self.max_backlog:
            inbox.clear()
            self.closing = True
            error = StrategyBacklogError(f"more than {self.max_backlog} events behind")
            self._on_failure(self, error)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Finish the event in hand (within the grace time), drop the rest, stop the strategy."""
        self.closing = True
        self.inbox.clear()
        self.offer_wakeup()
        task = self.task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace_seconds)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._publish()
        await self.strategy.stop()

    def offer_wakeup(self) -> None:
        """Wake the task if it waits for events."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def progress(self) -> StrategyProgress:
        """The counters, position and last event time, to keep with the strategy."""
        strategy = self.strategy
        return StrategyProgress(
            self.record.id,
            self.ticks_processed,
            strategy.orders_placed,
            strategy.position,
            strategy.last_update,
        )

    async def status(self) -> dict[str, Any]:
        """The strategy's status with the runner's counters."""
        status = await self.strategy.get_status()
        status["ticks_processed"] = self.ticks_processed
        status["backlog"] = len(self.inbox)
        return status

    async def _work(self) -> None:
        try:
            await self._feed()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.closing = True
            self.inbox.clear()
            self._on_failure(self, exc)
        finally:
            self._publish()
            self._wake_idle_waiters()

    async def _feed(self) -> None:
        inbox = self.inbox
        strategy = self.strategy
        on_tick = strategy.on_tick
        loop = asyncio.get_running_loop()
        handled = 0
        while not self.closing:
            if not inbox:
                self._publish()
                self._wake_idle_waiters()
                self._waiter = loop.create_future()
                await self._waiter
                continue
            event = inbox.popleft()
            if type(event) is TickSnapshot:
                strategy.last_update = event.datetime
                await on_tick(event)
                self.ticks_processed += 1
            elif type(event) is TradeFill:
                strategy.apply_fill(event)
                await strategy.on_trade(event)
            else:
                assert isinstance(event, tuple)
                strategy.apply_order_update(*event)
                await strategy.on_order(event[0])
            handled += 1
            if not handled % _YIELD_EVERY:
                self._publish()
                await asyncio.sleep(0)

    def _wake_idle_waiters(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _publish(self) -> None:
        delta = self.ticks_processed - self._published
        if delta:
            self._tick_counter.inc(delta)
            self._published = self.ticks_processed
