"""BacktestSubmission: a backtest accepted, stored and handed to the runner once committed."""

from __future__ import annotations

import asyncio

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.backtest import Backtest
from backend.schemas.backtests import BacktestCreate, BacktestFromHistory, BacktestFromTicks
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.history_feed import HistoryFeed, count_replayable_bars
from backend.services.backtest.runner import BacktestRunner
from backend.services.backtest.service import BacktestJob, BacktestService, NoStoredTicksError
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader


class BacktestSubmission:
    """Checks, stores and queues a user's backtest: over stored bars or an uploaded CSV."""

    def __init__(
        self,
        backtests: BacktestService,
        *,
        reader: BarReader,
        runner: BacktestRunner,
        max_bars: int,
    ) -> None:
        self.backtests = backtests
        self.reader = reader
        self.runner = runner
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
        backtest, job = await self.backtests.create(
            work.session, user_id=user_id, request=create, bars=bars, feed=feed, bar_count=count
        )
        self._queue_after_commit(work, job)
        return backtest

    async def from_upload(
        self, work: UnitOfWork, *, user_id: int, create: BacktestCreate, bars: BarSeries
    ) -> Backtest:
        """Replay the bars of an uploaded CSV (parsed by the caller)."""
        backtest, job = await self.backtests.create(
            work.session, user_id=user_id, request=create, bars=bars
        )
        self._queue_after_commit(work, job)
        return backtest

    def _queue_after_commit(self, work: UnitOfWork, job: BacktestJob) -> None:
        # The runner records progress in its own sessions: the row must be committed first.
        async def submit() -> None:
            self.runner.submit(job)

        work.after_commit(submit)
