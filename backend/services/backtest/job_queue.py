"""BacktestJobQueue: accepted backtests go to procrastinate's queue (PostgreSQL engine)."""

from __future__ import annotations

import procrastinate

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.backtest import Backtest
from backend.services.backtest.service import BacktestJob
from backend.services.research.jobs import cancel_job, defer_backtest


class BacktestJobQueue:
    """procrastinate's queue: a worker rebuilds the job from the row, deferred in its
    transaction."""

    keeps_inputs = True

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    async def enqueue(self, work: UnitOfWork, backtest: Backtest, job: BacktestJob) -> None:
        """The job deferred in this transaction; the row remembers it."""
        backtest.job_id = await defer_backtest(work.session, self.app, backtest.id)
        await work.session.flush()

    async def cancel(self, work: UnitOfWork, backtest: Backtest) -> None:
        """A waiting job cancelled, a running one's abort asked for, in this transaction (the
        run that overtakes it finds the row ended and stores nothing)."""
        if backtest.job_id is not None:
            await cancel_job(work.session, backtest.job_id)
