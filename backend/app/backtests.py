"""The backtest runner and the queue accepted backtests go to, built and registered."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.backtest.queueing import BacktestQueue, LocalBacktestQueue
from backend.services.backtest.runner import BacktestRunner
from backend.services.backtest.service import fail_unfinished
from backend.services.replicas.registry import ReplicaRegistry


def build_backtests(
    config: AppConfig, database: AsyncDatabaseManager
) -> tuple[BacktestRunner, BacktestQueue]:
    """A runner with `backtest.max_concurrent` worker threads (opened at start), and the
    queue: that runner (local engine) or procrastinate's (`redfire worker` runs it)."""
    runner = BacktestRunner(config.backtest, database, replica=config.replica_id)
    if config.research_engine == "procrastinate":
        from backend.services.backtest.job_queue import BacktestJobQueue
        from backend.services.research.jobs import build_job_app

        return runner, BacktestJobQueue(build_job_app(config.database.url))
    return runner, LocalBacktestQueue(runner)


def register_backtests(
    lifecycle: ApplicationLifecycleManager,
    runner: BacktestRunner,
    replicas: ReplicaRegistry,
    *,
    engine: Literal["local", "procrastinate"],
) -> None:
    """Local engine: start after the database; stop (failing unfinished runs) before it
    closes. With procrastinate the rows keep their inputs and workers run them: nothing to
    fail when a replica stops or departs."""
    if engine != "local":
        return

    async def fail_departed(session: AsyncSession, departed: str) -> None:
        await fail_unfinished(session, departed, "interrupted: its replica is gone")

    replicas.on_departure(fail_departed)
    lifecycle.register("backtests", start=runner.start, stop=runner.stop)
