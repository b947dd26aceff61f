"""Where an accepted optimisation goes: the API's local pool, or procrastinate's queue."""

from __future__ import annotations

from typing import Protocol

import procrastinate

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.optimization import Optimization
from backend.services.research.jobs import cancel_job, defer_optimization
from backend.services.research.runner import OptimizationRunner


class ResearchQueue(Protocol):
    """Queues a stored optimisation and stops a cancelled one."""

    async def enqueue(self, work: UnitOfWork, optimization: Optimization) -> None:
        """Run it once its row is committed (and never if it is not)."""

    async def cancel(self, work: UnitOfWork, optimization: Optimization) -> None:
        """It was cancelled in this transaction: stop it once that commits."""


class LocalQueue:
    """This replica's OptimizationRunner (the embedded default): told after the commit, as
    it reads the row in its own session."""

    def __init__(self, runner: OptimizationRunner) -> None:
        self.runner = runner

    async def enqueue(self, work: UnitOfWork, optimization: Optimization) -> None:
        """Submitted to the runner after the commit."""
        optimization_id = optimization.id

        async def submit() -> None:
            self.runner.submit(optimization_id)

        work.after_commit(submit)

    async def cancel(self, work: UnitOfWork, optimization: Optimization) -> None:
        """The runner stops it after the commit (any replica's runner sees the row)."""
        optimization_id = optimization.id

        async def stop() -> None:
            self.runner.cancel(optimization_id)

        work.after_commit(stop)


class JobQueue:
    """procrastinate's queue in the same database: the job is written in the row's own
    transaction, so both commit or neither does."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    async def enqueue(self, work: UnitOfWork, optimization: Optimization) -> None:
        """The job deferred in this transaction; the row remembers it."""
        optimization.job_id = await defer_optimization(work.session, self.app, optimization.id)
        await work.session.flush()

    async def cancel(self, work: UnitOfWork, optimization: Optimization) -> None:
        """A waiting job cancelled, a running one's abort asked for, in this transaction."""
        if optimization.job_id is not None:
            await cancel_job(work.session, optimization.job_id)
