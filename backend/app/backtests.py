"""The backtest runner, built and registered as a lifecycle hook."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.backtest.runner import BacktestRunner
from backend.services.backtest.service import fail_unfinished
from backend.services.replicas.registry import ReplicaRegistry


def build_backtests(config: AppConfig, database: AsyncDatabaseManager) -> BacktestRunner:
    """A runner with `backtest.max_concurrent` worker threads (opened at start)."""
    return BacktestRunner(config.backtest, database, replica=config.replica_id)


def register_backtests(
    lifecycle: ApplicationLifecycleManager, runner: BacktestRunner, replicas: ReplicaRegistry
) -> None:
    """Start after the database; stop (failing unfinished runs) before it closes."""

    async def fail_departed(session: AsyncSession, departed: str) -> None:
        await fail_unfinished(session, departed, "interrupted: its replica is gone")

    replicas.on_departure(fail_departed)
    lifecycle.register("backtests", start=runner.start, stop=runner.stop)
