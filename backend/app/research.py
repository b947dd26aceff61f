"""The optimisation runner and the queue accepted optimisations go to, built and registered."""

from __future__ import annotations

from backend.app.market_history import MarketHistory
from backend.app.stream import StreamComponents
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.lifecycle.manager import ApplicationLifecycleManager
from backend.services.replicas.registry import ReplicaRegistry
from backend.services.research.queueing import LocalQueue, ResearchQueue
from backend.services.research.runner import OptimizationRunner
from backend.services.strategy.engine import StrategyEngine


def build_research(
    config: AppConfig,
    database: AsyncDatabaseManager,
    strategies: StrategyEngine,
    history: MarketHistory,
    stream: StreamComponents,
) -> tuple[OptimizationRunner, ResearchQueue]:
    """A runner on the strategy registry and stored history, publishing on the stream, and
    the queue: that runner (local engine) or procrastinate's (`redfire worker` runs it)."""
    runner = OptimizationRunner(
        config, database, strategies.registry, history.reader, stream.publish_optimization_event
    )
    if config.research_engine == "procrastinate":
        # Imported on this engine only: procrastinate and psycopg stay out of an embedded API.
        from backend.services.research.job_queue import JobQueue
        from backend.services.research.jobs import build_job_app

        return runner, JobQueue(build_job_app(config.database.url))
    return runner, LocalQueue(runner)


def register_research(
    lifecycle: ApplicationLifecycleManager,
    runner: OptimizationRunner,
    replicas: ReplicaRegistry,
    *,
    config: AppConfig,
    database: AsyncDatabaseManager,
) -> None:
    """Local engine: start after the database and the stream (it resumes unfinished work),
    stop before them; a departed replica's unfinished optimisations are taken over by the
    replica settling it. With procrastinate the workers run everything: the API only reports
    the queue (redfire_research_queue_*)."""
    if config.research_engine != "local":
        from backend.services.research.queue_metrics import QueueGauges

        gauges = QueueGauges(database, interval=config.research.heartbeat_seconds)
        lifecycle.register("research_queue_metrics", start=gauges.start, stop=gauges.stop)
        return
    replicas.on_departure(runner.adopt)
    lifecycle.register("research", start=runner.start, stop=runner.stop)
