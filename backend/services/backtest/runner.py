"""BacktestRunner: queued backtests run on worker threads, a bounded number at a time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import structlog

from backend.core.config.settings import BacktestConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.services.backtest.engine import BacktestCancelledError, BacktestFailedError
from backend.services.backtest.service import (
    BacktestJob,
    fail_unfinished,
    mark_failed,
    mark_finished,
    mark_running,
)
from backend.services.strategy.errors import error_message

logger = structlog.get_logger(__name__)


class BacktestRunner:
    """Each submitted job waits for one of `max_concurrent` slots, then runs on a thread.

    A backtest is pure CPU: it never touches the event loop, and its results are stored from
    the loop once the thread is done. Jobs live in memory only (their bars are not stored), so
    the ones this replica had not finished are failed when it stops or starts again.
    """

    def __init__(
        self, config: BacktestConfig, database: AsyncDatabaseManager, *, replica: str
    ) -> None:
        self.config = config
        self.database = database
        self.replica = replica
        self._slots = asyncio.Semaphore(config.max_concurrent)
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # The jobs submitted and not yet ended, by backtest id (to stop a cancelled one).
        self._jobs: dict[int, BacktestJob] = {}

    async def start(self) -> None:
        """Open the worker threads; fail what an earlier run of this replica left unfinished."""
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.max_concurrent, thread_name_prefix="backtest"
        )
        async with self.database.session() as session:
            failed = await fail_unfinished(session, self.replica, "interrupted by a restart")
        if failed:
            logger.warning("interrupted_backtests_failed", count=failed)

    async def stop(self) -> None:
        """Drop queued jobs, let running threads finish on their own, fail what is unfinished."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        async with self.database.session() as session:
            await fail_unfinished(session, self.replica, "interrupted by a shutdown")

    def submit(self, job: BacktestJob) -> None:
        """Queue a job whose Backtest row is committed."""
        task = asyncio.create_task(self._run(job), name=f"backtest-{job.backtest_id}")
        self._tasks.add(task)
        self._jobs[job.backtest_id] = job
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._jobs.pop(job.backtest_id, None))

    def cancel(self, backtest_id: int) -> None:
        """Its row was cancelled: a waiting job will not start, a running one stops within
        STOP_CHECK_BARS bars."""
        job = self._jobs.get(backtest_id)
        if job is not None:
            job.stop.set()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return len(self._tasks)

    async def _run(self, job: BacktestJob) -> None:
        async with self._slots:
            executor = self._executor
            if executor is None:
                raise RuntimeError("the backtest runner is not started")
            async with self.database.session() as session:
                if not await mark_running(session, job.backtest_id):
                    return  # cancelled while it waited
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(executor, job.execute)
            except asyncio.CancelledError:
                raise
            except BacktestCancelledError:
                logger.info("backtest_stopped", backtest_id=job.backtest_id)
                return  # the row says cancelled already
            except Exception as exc:
                logger.warning("backtest_failed", backtest_id=job.backtest_id, exc_info=True)
                message = (
                    str(exc)
                    if isinstance(exc, BacktestFailedError)
                    else f"the backtest failed: {error_message(exc)}"
                )
                async with self.database.session() as session:
                    await mark_failed(session, job.backtest_id, message)
                return
            async with self.database.session() as session:
                await mark_finished(session, job.backtest_id, result)
