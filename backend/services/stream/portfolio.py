"""PortfolioStream: the `position` and `account` topics, refreshed per user at most so often.

Each replica serves its own subscribers: a user's order or trade event (from any replica,
through the bus, after it committed) or a tick of a contract the user holds marks the user
stale; a single task reads a stale user's positions and account from the database at most
once per `interval` (the first change at once, the ones after it merged into the next read)
and sends what changed since the last update to that user's subscribed connections here. So a
tick costs a dictionary look-up, a burst of fills one read per user and interval, and users
without a subscriber on this replica nothing at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from backend.services.stream.bus import StreamEvent
from backend.services.stream.connection import ClientConnection, encode

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """A user's positions (JSON-ready, by symbol) and account (JSON-ready), as committed."""

    positions: dict[str, dict[str, Any]]
    account: dict[str, Any]


PortfolioLoader = Callable[[int], Awaitable[PortfolioSnapshot]]


@dataclass(slots=True)
class _Sent:
    """What a user's subscribers were last sent, to send only what changed."""

    positions: dict[str, str]
    account: str | None = None


class PortfolioStream:
    """Sends each subscribed user's changed positions and account, throttled per user."""

    def __init__(self, load: PortfolioLoader, *, interval: float = 1.0) -> None:
        self.load = load
        self.interval = interval
        self._subscribers: dict[int, set[ClientConnection]] = {}
        self._holders: dict[str, set[int]] = {}  # symbol -> subscribed users holding it
        self._held: dict[int, set[str]] = {}  # user -> symbols held at the last read
        self._sent: dict[int, _Sent] = {}
        self._stale: set[int] = set()
        self._last_read: dict[int, float] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def on_event(self, event: StreamEvent) -> None:
        """Bus listener: a subscriber's order or trade, or a tick of what one holds."""
        if event.topic == "tick":
            holders = self._holders.get(event.symbol or "")
            if holders:
                self._stale.update(holders)
                self._wakeup.set()
        elif event.topic in ("order", "trade") and event.user_id in self._subscribers:
            self._stale.add(event.user_id)
            self._wakeup.set()

    def on_connection(self, connection: ClientConnection) -> None:
        """Hub listener: a connection (un)subscribed `position`/`account`, or closed."""
        user_id = connection.user_id
        if user_id is None:
            return
        connections = self._subscribers.get(user_id, set())
        if connection.portfolio and not connection.closing:
            self._subscribers[user_id] = connections | {connection}
            # A new subscriber gets everything once: forget what the others were sent.
            self._sent.pop(user_id, None)
            self._stale.add(user_id)
            self._wakeup.set()
            return
        connections.discard(connection)
        if not connections:
            self._forget(user_id)

    async def start(self) -> None:
        """Start the refreshing task."""
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_forever(), name="stream-portfolio")

    async def stop(self) -> None:
        """Stop it; pending refreshes are dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _forget(self, user_id: int) -> None:
        self._subscribers.pop(user_id, None)
        self._sent.pop(user_id, None)
        self._stale.discard(user_id)
        self._last_read.pop(user_id, None)
        self._hold(user_id, set())

    def _hold(self, user_id: int, symbols: set[str]) -> None:
        """Index the symbols a subscribed user holds (their ticks make the user stale)."""
        before = self._held.pop(user_id, set())
        for symbol in before - symbols:
            holders = self._holders.get(symbol)
            if holders is not None:
                holders.discard(user_id)
                if not holders:
                    del self._holders[symbol]
        for symbol in symbols - before:
            self._holders.setdefault(symbol, set()).add(user_id)
        if symbols:
            self._held[user_id] = symbols

    async def _refresh_forever(self) -> None:
        while True:
            await self._wait_for_due()
            now = time.monotonic()
            due = [u for u in self._stale if now - self._last_read.get(u, -1e9) >= self.interval]
            for user_id in due:
                self._stale.discard(user_id)
                self._last_read[user_id] = now
            for user_id in due:
                try:
                    await self._refresh(user_id)
                except Exception:  # the database is down, say: the next change tries again
                    logger.exception("portfolio_refresh_failed", user_id=user_id)

    async def _wait_for_due(self) -> None:
        """Until a stale user's interval has passed (or something new became stale)."""
        self._wakeup.clear()
        if not self._stale:
            await self._wakeup.wait()
            return
        now = time.monotonic()
        due_at = min(self._last_read.get(u, -1e9) + self.interval for u in self._stale)
        if due_at > now:
            try:
                async with asyncio.timeout(due_at - now):
                    await self._wakeup.wait()
            except TimeoutError:
                return

    async def _refresh(self, user_id: int) -> None:
        snapshot = await self.load(user_id)
        connections = self._subscribers.get(user_id)
        if not connections:
            return  # every subscriber left while it was read
        held = {s for s, p in snapshot.positions.items() if Decimal(p["quantity"]) != 0}
        self._hold(user_id, held)
        sent = self._sent.setdefault(user_id, _Sent({}))
        messages: list[tuple[str, str]] = []
        for symbol, position in snapshot.positions.items():
            payload = encode(position)
            if sent.positions.get(symbol) != payload:
                sent.positions[symbol] = payload
                messages.append(("position", payload))
        account = encode(snapshot.account)
        if account != sent.account:
            sent.account = account
            messages.append(("account", account))
        for connection in tuple(connections):
            for topic, payload in messages:
                if topic in connection.portfolio:
                    connection.enqueue(topic, payload)
