"""A backtest reading stored bars ends, not hangs, when the loop reading them stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from backend.core.config.settings import DatabaseConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.migrations import upgrade
from backend.models.market import MarketBar
from backend.services.backtest.history_feed import HistoryFeed, HistoryFeedStoppedError
from backend.services.market.intervals import BarInterval
from backend.services.market.partitions import Partitions
from backend.services.market.reading import BarReader
from backend.services.market.store import BarStore
from tests.conftest import TEST_DATABASE_URL
from tests.services.market.support import MINUTE, SYMBOL, imported


@pytest.fixture
def feed_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, threading.Thread]]:
    """An event loop running on a thread of its own (the app's, to a backtest's thread); the
    thread is stopped whatever the test did, so that a failure cannot leave it running and
    pytest waiting for it at exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="feed-loop", daemon=True)
    thread.start()
    try:
        yield loop, thread
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        loop.close()


@pytest.fixture
def feed_database_url(database_url: str, tmp_path: Path) -> str:
    """The run's database on PostgreSQL; on SQLite a migrated file of this test's own. The
    test writes from a thread's loop, outside any app: on the shared file it once found the
    write lock held past the busy timeout by a connection an earlier test left behind
    (seen once in CI, not reproduced; see the session notes)."""
    if TEST_DATABASE_URL is not None:
        return database_url
    url = f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}"
    upgrade(url)
    return url


def test_the_feed_ends_when_its_loop_stops(
    feed_database_url: str, feed_loop: tuple[asyncio.AbstractEventLoop, threading.Thread]
) -> None:
    loop, thread = feed_loop
    database = AsyncDatabaseManager(DatabaseConfig(url=feed_database_url))
    start = MINUTE + timedelta(days=400)
    bars = [imported(start + timedelta(minutes=index), "10") for index in range(1000)]
    store = BarStore(database, Partitions(database))
    try:
        asyncio.run_coroutine_threadsafe(store.write_bars(bars), loop).result(timeout=30)
        feed = HistoryFeed(BarReader(database), loop, symbol=SYMBOL,
                           interval=BarInterval.MINUTE, start=start,
                           end=start + timedelta(days=1), chunk_bars=100)  # fmt: skip
        chunks = iter(feed)
        assert len(next(chunks).close) == 100
        loop.call_soon_threadsafe(loop.stop)  # a shutdown: nothing on the loop runs any more
        thread.join(timeout=10)
        with pytest.raises(HistoryFeedStoppedError):
            for _ in chunks:  # what was read already, then the end
                pass
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        loop.run_until_complete(cleanup(database, start))  # the loop its connections are on


async def cleanup(database: AsyncDatabaseManager, start: datetime) -> None:
    """Erase what the test wrote and close its connections."""
    try:
        await erase(database, start)
    finally:
        await database.dispose()


async def erase(database: AsyncDatabaseManager, start: datetime) -> None:
    """Leave the session's database as the other tests expect it."""
    async with database.session() as session:
        await session.execute(
            delete(MarketBar).where(MarketBar.symbol == SYMBOL, MarketBar.datetime >= start)
        )
