"""A backtest reading stored bars ends, not hangs, when the loop reading them stops."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete

from backend.core.config.settings import DatabaseConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.market import MarketBar
from backend.services.backtest.history_feed import HistoryFeed, HistoryFeedStoppedError
from backend.services.market.intervals import BarInterval
from backend.services.market.partitions import Partitions
from backend.services.market.reading import BarReader
from backend.services.market.store import BarStore
from tests.services.market.support import MINUTE, SYMBOL, imported


def test_the_feed_ends_when_its_loop_stops(database_url: str) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="feed-loop")
    thread.start()
    database = AsyncDatabaseManager(DatabaseConfig(url=database_url))
    start = MINUTE + timedelta(days=400)
    bars = [imported(start + timedelta(minutes=index), "10") for index in range(1000)]
    store = BarStore(database, Partitions(database))
    asyncio.run_coroutine_threadsafe(store.write_bars(bars), loop).result(timeout=30)
    feed = HistoryFeed(BarReader(database), loop, symbol=SYMBOL, interval=BarInterval.MINUTE,
                       start=start, end=start + timedelta(days=1), chunk_bars=100)  # fmt: skip
    chunks = iter(feed)
    try:
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
        loop.run_until_complete(erase(database, start))
        loop.run_until_complete(database.dispose())
        loop.close()


async def erase(database: AsyncDatabaseManager, start: datetime) -> None:
    """Leave the session's database as the other tests expect it."""
    async with database.session() as session:
        await session.execute(
            delete(MarketBar).where(MarketBar.symbol == SYMBOL, MarketBar.datetime >= start)
        )
