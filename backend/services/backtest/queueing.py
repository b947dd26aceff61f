"""Where an accepted backtest goes: the API's threads (here), or procrastinate's queue
(`job_queue.py`, imported only on that engine)."""

from __future__ import annotations

from typing import Protocol

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.backtest import Backtest
from backend.services.backtest.runner import BacktestRunner
from backend.services.backtest.service import BacktestJob


class BacktestQueue(Protocol):
    """Queues a stored backtest."""

    @property
    def keeps_inputs(self) -> bool:
        """True when the row must hold the bars (the run happens in another process)."""

    async def enqueue(self, work: UnitOfWork, backtest: Backtest, job: BacktestJob) -> None:
        """Run it once its row is committed (and never if it is not)."""

    async def cancel(self, work: UnitOfWork, backtest: Backtest) -> None:
        """It was cancelled in this transaction: stop its job."""


class LocalBacktestQueue:
    """This replica's BacktestRunner (the embedded default): the job, bars in memory, is
    submitted after the commit."""

    keeps_inputs = False

    def __init__(self, runner: BacktestRunner) -> None:
        self.runner = runner

    async def enqueue(self, work: UnitOfWork, backtest: Backtest, job: BacktestJob) -> None:
        """Submitted to the runner after the commit (it writes in its own sessions)."""

        async def submit() -> None:
            self.runner.submit(job)

        work.after_commit(submit)

    async def cancel(self, work: UnitOfWork, backtest: Backtest) -> None:
        """The runner stops the job after the commit (a job still waiting for a thread would
        find its row no longer queued anyway, and a running one's result is not stored)."""
        backtest_id = backtest.id

        async def stop() -> None:
            self.runner.cancel(backtest_id)

        work.after_commit(stop)
