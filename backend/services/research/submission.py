"""OptimizationSubmission: an optimisation accepted, stored and handed to the runner once
committed; cancelled likewise."""

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
from backend.services.research.runner import OptimizationRunner
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
        runner: OptimizationRunner,
        max_bars: int,
    ) -> None:
        self.optimizations = optimizations
        self.reader = reader
        self.runner = runner
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
        self._queue_after_commit(work, optimization.id)
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
        self._queue_after_commit(work, optimization.id)
        return optimization

    async def cancel(self, work: UnitOfWork, *, user_id: int, optimization_id: int) -> Optimization:
        """Cancelled in the database; the runner is told once that is committed."""
        optimization = await self.optimizations.cancel(
            work.session, user_id=user_id, optimization_id=optimization_id
        )

        async def stop() -> None:
            self.runner.cancel(optimization_id)

        work.after_commit(stop)
        return optimization

    def _queue_after_commit(self, work: UnitOfWork, optimization_id: int) -> None:
        # The runner reads the row in its own session: it must be committed first.
        async def submit() -> None:
            self.runner.submit(optimization_id)

        work.after_commit(submit)
