"""PortfolioStream with a hub of fake sockets: throttled reads, only changes sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.services.stream.bus import StreamEvent
from backend.services.stream.hub import StreamHub
from backend.services.stream.portfolio import PortfolioSnapshot, PortfolioStream
from tests.services.stream.conftest import WAIT, FakeSocket, authenticate

IF = "IF2412.CFFEX"
ALICE = 1
INTERVAL = 0.2


class Book:
    """What the loader reads (the database's state in the app), and when it was read."""

    def __init__(self) -> None:
        self.unrealized = 0
        self.reads: list[float] = []
        self.read = asyncio.Event()

    async def load(self, user_id: int) -> PortfolioSnapshot:
        self.reads.append(time.monotonic())
        self.read.set()
        position = {"symbol": IF, "quantity": "1", "unrealized_pnl": str(self.unrealized)}
        return PortfolioSnapshot({IF: position}, {"unrealized_pnl": str(self.unrealized)})


@pytest.fixture
async def book() -> Book:
    """The loader's state."""
    return Book()


@pytest.fixture
async def served(book: Book) -> AsyncIterator[tuple[StreamHub, PortfolioStream, FakeSocket]]:
    """Alice connected and subscribed to `position` and `account`, her first update read."""
    hub = StreamHub(is_listed=lambda symbol: symbol == IF)
    portfolio = PortfolioStream(book.load, interval=INTERVAL)
    hub.portfolio_listener = portfolio.on_connection
    await portfolio.start()
    socket = FakeSocket()
    socket.task = asyncio.create_task(
        hub.serve(socket, token="alice-token", authenticate=authenticate)
    )
    socket.client_sends({"op": "subscribe", "topics": ["position", "account"]})
    assert (await socket.next())["topic"] == "subscribed"
    assert [(await socket.next())["topic"] for _ in range(2)] == ["position", "account"]
    yield hub, portfolio, socket
    await hub.stop()
    await portfolio.stop()
    await asyncio.wait_for(socket.task, WAIT)


def _tick(symbol: str = IF) -> StreamEvent:
    return StreamEvent("tick", None, symbol, {"symbol": symbol})


async def test_a_stream_of_ticks_reads_at_most_once_per_interval(
    served: tuple[StreamHub, PortfolioStream, FakeSocket], book: Book
) -> None:
    _, portfolio, socket = served
    started = time.monotonic()
    while time.monotonic() - started < 5 * INTERVAL:
        book.unrealized += 1
        portfolio.on_event(_tick())  # a tick of the held contract, every 10 ms
        await asyncio.sleep(0.01)
    gaps = [later - earlier for earlier, later in zip(book.reads, book.reads[1:], strict=False)]
    assert len(book.reads) >= 3, book.reads  # it does follow the market
    assert min(gaps) >= INTERVAL * 0.95, gaps  # ...never faster than the interval
    # The last tick's value arrives once its read is due.
    last: dict[str, Any] = {}
    while last.get("unrealized_pnl") != str(book.unrealized):
        last = (await socket.next())["data"]


async def test_only_what_changed_is_sent(
    served: tuple[StreamHub, PortfolioStream, FakeSocket], book: Book
) -> None:
    _, portfolio, socket = served
    book.read.clear()
    portfolio.on_event(StreamEvent("order", ALICE, IF, {"id": 1}))  # nothing changed
    await asyncio.wait_for(book.read.wait(), WAIT)
    book.unrealized = 7
    portfolio.on_event(StreamEvent("trade", ALICE, IF, {"id": 1}))
    # The read that found nothing new sent nothing: the next messages are the change.
    assert [(await socket.next())["topic"] for _ in range(2)] == ["position", "account"]


async def test_other_users_events_read_nothing(
    served: tuple[StreamHub, PortfolioStream, FakeSocket], book: Book
) -> None:
    _, portfolio, socket = served
    reads = len(book.reads)
    portfolio.on_event(StreamEvent("trade", ALICE + 1, IF, {"id": 1}))
    portfolio.on_event(_tick("rb2501.SHFE"))  # not held
    book.unrealized = 3
    portfolio.on_event(_tick())
    assert (await socket.next())["data"]["unrealized_pnl"] == "3"
    assert len(book.reads) == reads + 1
