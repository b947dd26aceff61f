"""The optimisation runner, built and registered as a lifecycle hook."""

from __future__ import annotations

from backend.app.market_history import MarketHistory
from backend.app.stream import StreamComponents
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.replicas.registry import ReplicaRegistry
from backend.services.research.runner import OptimizationRunner
from backend.services.strategy.engine import StrategyEngine


def build_research(
    config: AppConfig,
    database: AsyncDatabaseManager,
    strategies: StrategyEngine,
    history: MarketHistory,
    stream: StreamComponents,
) -> OptimizationRunner:
    """A runner on the strategy registry and stored history, publishing on the stream."""
    return OptimizationRunner(
        config, database, strategies.registry, history.reader, stream.publish_optimization_event
    )


def register_research(
    lifecycle: ApplicationLifecycleManager, runner: OptimizationRunner, replicas: ReplicaRegistry
) -> None:
    """Start after the database and the stream (it resumes unfinished work); stop before them.
    A departed replica's unfinished optimisations are taken over by the replica settling it."""
    replicas.on_departure(runner.adopt)
    lifecycle.register("research", start=runner.start, stop=runner.stop)
