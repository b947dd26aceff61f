"""BacktestSubmission: a backtest accepted, stored and queued (the API's runner, or
procrastinate's queue with its inputs kept on the row)."""

from __future__ import annotations

import asyncio
import gzip
from typing import BinaryIO

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.backtest import Backtest
from backend.schemas.backtests import BacktestCreate, BacktestFromHistory, BacktestFromTicks
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.history_feed import HistoryFeed, count_replayable_bars
from backend.services.backtest.queueing import BacktestQueue
from backend.services.backtest.service import BacktestService, NoStoredTicksError
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader


class BacktestSubmission:
    """Checks, stores and queues a user's backtest: over stored bars or an uploaded CSV."""

    def __init__(
        self,
        backtests: BacktestService,
        *,
        reader: BarReader,
        queue: BacktestQueue,
        max_bars: int,
    ) -> None:
        self.backtests = backtests
        self.reader = reader
        self.queue = queue
        self.max_bars = max_bars

    def check_class(self, create: BacktestCreate) -> None:
        """422 for an unknown class or parameters it refuses, before the bars are read."""
        self.backtests.registry.validate(create.class_name, create.parameters)

    async def reserve(self, work: UnitOfWork, *, user_id: int) -> None:
        """429 when the user has too many queued; then end the transaction, so none is held
        (with SQLite's write lock) while bars are counted or an upload is read and parsed.
        Checked again, holding the user's row, when the backtest is stored."""
        await self.backtests.ensure_capacity(work.session, user_id=user_id)
        await work.commit()

    async def from_history(
        self, work: UnitOfWork, *, user_id: int, create: BacktestFromHistory | BacktestFromTicks
    ) -> Backtest:
        """Replay stored bars of [start, end): 422 when there are none or too many."""
        if isinstance(create, BacktestFromTicks):
            raise NoStoredTicksError(
                'the platform replays bars, not ticks: send {"source": "history", ...}'
            )
        self.backtests.registry.validate(create.class_name, create.parameters)
        await self.reserve(work, user_id=user_id)
        interval = BarInterval(create.interval)
        count = await count_replayable_bars(
            self.reader, create.symbol, interval, create.start, create.end, max_bars=self.max_bars
        )
        feed = HistoryFeed(
            self.reader, asyncio.get_running_loop(), symbol=create.symbol, interval=interval,
            start=create.start, end=create.end,
        )  # fmt: skip
        bars = BarSeries.build(create.symbol, [], ([], [], [], []), [])
        stored_range = None
        if self.queue.keeps_inputs:
            stored_range = create.model_dump(mode="json", include={"interval", "start", "end"})
        backtest, job = await self.backtests.create(
            work.session, user_id=user_id, request=create, bars=bars, feed=feed,
            bar_count=count, stored_range=stored_range,
        )  # fmt: skip
        await self.queue.enqueue(work, backtest, job)
        return backtest

    async def kept_upload(self, upload: BinaryIO) -> bytes | None:
        """The uploaded CSV gzipped, when the row must keep it (a worker runs it); read again
        from its spooled file, off the event loop."""
        if not self.queue.keeps_inputs:
            return None

        def pack() -> bytes:
            upload.seek(0)
            return gzip.compress(upload.read(), 6)

        return await asyncio.to_thread(pack)

    async def from_upload(
        self,
        work: UnitOfWork,
        *,
        user_id: int,
        create: BacktestCreate,
        bars: BarSeries,
        bars_csv: bytes | None = None,
    ) -> Backtest:
        """Replay the bars of an uploaded CSV (parsed by the caller; kept if `bars_csv`)."""
        backtest, job = await self.backtests.create(
            work.session, user_id=user_id, request=create, bars=bars, bars_csv=bars_csv
        )
        await self.queue.enqueue(work, backtest, job)
        return backtest

    async def cancel(self, work: UnitOfWork, *, user_id: int, backtest_id: int) -> Backtest:
        """Cancelled in the database, and its job with it."""
        backtest = await self.backtests.cancel(
            work.session, user_id=user_id, backtest_id=backtest_id
        )
        await self.queue.cancel(work, backtest)
        return backtest
