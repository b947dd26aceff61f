"""Where an accepted optimisation goes: the API's local pool (here), or procrastinate's queue
(`job_queue.py`, imported only on that engine: procrastinate and psycopg load nowhere else)."""

from __future__ import annotations

from typing import Protocol

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.optimization import Optimization
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
