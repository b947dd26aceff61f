"""The backtest runner, built and registered as a lifecycle hook."""

from __future__ import annotations

from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.backtest.runner import BacktestRunner


def build_backtests(config: AppConfig, database: AsyncDatabaseManager) -> BacktestRunner:
    """A runner with `backtest.max_concurrent` worker threads (opened at start)."""
    return BacktestRunner(config.backtest, database, replica=config.replica_id)


def register_backtests(lifecycle: ApplicationLifecycleManager, runner: BacktestRunner) -> None:
    """Start after the database; stop (failing unfinished runs) before it closes."""
    lifecycle.register("backtests", start=runner.start, stop=runner.stop)
