"""OptimizationSubmission: an optimisation accepted, stored and queued (the local runner or
procrastinate's queue, see queueing.py); cancelled likewise."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.optimization import Optimization
from backend.schemas.optimizations import OptimizationFromHistory, OptimizationSweep
from backend.services.backtest.bars import BarSeries, InvalidBarDataError
from backend.services.backtest.history_feed import count_replayable_bars
from backend.services.backtest.window import split_at
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader
from backend.services.research.queueing import ResearchQueue
from backend.services.research.service import OptimizationService, SweepPlan

# The request as stored and its validated plan (OptimizationService.plan).
PlannedSweep = tuple[dict[str, Any], SweepPlan]


class OptimizationSubmission:
    """Checks, stores and queues a user's optimisation: over stored bars or an uploaded CSV."""

    def __init__(
        self,
        optimizations: OptimizationService,
        *,
        reader: BarReader,
        queue: ResearchQueue,
        max_bars: int,
    ) -> None:
        self.optimizations = optimizations
        self.reader = reader
        self.queue = queue
        self.max_bars = max_bars

    async def reserve(self, work: UnitOfWork, *, user_id: int) -> None:
        """429 when the user has too many queued; then end the transaction, so none is held
        while bars are counted or an upload is read. Checked again when the row is stored."""
        await self.optimizations.ensure_capacity(work.session, user_id=user_id)
        await work.commit()

    async def from_history(
        self, work: UnitOfWork, *, user_id: int, create: OptimizationFromHistory
    ) -> Optimization:
        """Sweep over stored bars of [start, end): 422 when there are none or too many."""
        stored, plan = self.optimizations.plan(create)
        await self.reserve(work, user_id=user_id)
        interval = BarInterval(create.interval)
        count = await count_replayable_bars(
            self.reader, create.symbol, interval, create.start, create.end, max_bars=self.max_bars
        )
        optimization = await self.optimizations.create(
            work.session, user_id=user_id, sweep=create, request=stored, plan=plan,
            source="history", bar_count=count,
        )  # fmt: skip
        await self.queue.enqueue(work, optimization)
        return optimization

    def plan(self, create: OptimizationSweep) -> PlannedSweep:
        """The request as stored and its plan; 422 for a class, parameter or range that
        cannot run, before the bars are read."""
        return self.optimizations.plan(create)

    async def from_upload(
        self,
        work: UnitOfWork,
        *,
        user_id: int,
        create: OptimizationSweep,
        planned: PlannedSweep,
        bars: BarSeries,
        content: bytes,
    ) -> Optimization:
        """Sweep over an uploaded CSV (parsed by the caller, planned by `plan`), kept gzipped
        with the row."""
        stored, plan = planned
        if not split_at(bars, create.settings.start)[1].bar_count:
            raise InvalidBarDataError(f"no bar at or after settings.start {create.settings.start}")
        packed = await asyncio.to_thread(gzip.compress, content, 6)
        optimization = await self.optimizations.create(
            work.session, user_id=user_id, sweep=create, request=stored, plan=plan,
            source="csv", bar_count=bars.bar_count, bars_csv=packed,
        )  # fmt: skip
        await self.queue.enqueue(work, optimization)
        return optimization

    async def cancel(self, work: UnitOfWork, *, user_id: int, optimization_id: int) -> Optimization:
        """Cancelled in the database, and its job with it."""
        optimization = await self.optimizations.cancel(
            work.session, user_id=user_id, optimization_id=optimization_id
        )
        await self.queue.cancel(work, optimization)
        return optimization
