"""JobQueue: accepted optimisations go to procrastinate's queue (PostgreSQL engine)."""

from __future__ import annotations

import procrastinate

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.optimization import Optimization
from backend.services.research.jobs import cancel_job, defer_optimization


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
