"""BacktestJobQueue: accepted backtests go to procrastinate's queue (PostgreSQL engine)."""

from __future__ import annotations

import procrastinate

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.backtest import Backtest
from backend.services.backtest.service import BacktestJob
from backend.services.research.jobs import defer_backtest


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
