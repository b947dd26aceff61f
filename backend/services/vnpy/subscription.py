"""A bridge subscriber's queue and task, and the barrier that flush() sends through them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

YIELD_EVERY = 256


class _Unsubscriber(Protocol):
    def unsubscribe(self, subscription: Subscription) -> None: ...


class Barrier:
    """Resolves its future once every subscriber has consumed everything queued before it."""

    __slots__ = ("future", "pending")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.pending = 0

    def arrive(self) -> None:
        """One subscriber has reached the barrier."""
        self.pending -= 1
        if self.pending <= 0 and not self.future.done():
            self.future.set_result(None)


class Subscription:
    """One async subscriber of one kind of event; `cancel()` ends it."""

    __slots__ = (
        "_bridge",
        "callback",
        "items",
        "kind",
        "last_error_log",
        "limit",
        "task",
        "wakeup",
    )

    def __init__(
        self,
        bridge: _Unsubscriber,
        kind: str,
        callback: Callable[[Any], Awaitable[None]],
        limit: int,
    ) -> None:
        self._bridge = bridge
        self.kind = kind
        self.callback = callback
        self.limit = limit
        self.items: deque[Any] = deque()
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.last_error_log = 0.0

    def cancel(self) -> None:
        """Stop delivering to this subscriber."""
        self._bridge.unsubscribe(self)

    async def run(self, on_error: Callable[[Subscription], None]) -> None:
        """Deliver queued events to the callback, in order, until cancelled."""
        items, callback = self.items, self.callback
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            done = 0
            while items:
                payload = items.popleft()
                if isinstance(payload, Barrier):
                    payload.arrive()
                    continue
                try:
                    await callback(payload)
                except Exception:
                    on_error(self)
                done += 1
                if done % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the rest of the loop run during a burst
