"""`redfire worker`: a procrastinate worker running research jobs: optimisations on a local
process pool, backtests on a thread.

Each worker writes a heartbeat every RESEARCH__HEARTBEAT_SECONDS. A worker killed mid-job
stops writing it: every live worker looks for jobs still `doing` under a worker silent for
RESEARCH__STALLED_AFTER_SECONDS and queues them again, and the run that picks one up claims
its optimisation under a new attempt (see runner.claim), so it ends with one result.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import procrastinate
import structlog
from procrastinate.exceptions import ConnectorException

from backend.app.stream import create_bus
from backend.core.config.sections import ResearchConfig
from backend.core.config.settings import AppConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.messaging.factory import create_messaging
from backend.services.backtest.stored_runs import StoredBacktestRunner
from backend.services.market.reading import BarReader
from backend.services.research.jobs import BACKTESTS, QUEUE, RUNNER, build_job_app
from backend.services.research.runner import OptimizationRunner
from backend.services.research.worker_metrics import serve_metrics
from backend.services.strategy.registry import load_registry
from backend.services.stream.publisher import StreamPublisher

logger = structlog.get_logger(__name__)


async def retry_stalled_jobs(app: procrastinate.App, research: ResearchConfig) -> None:
    """Forever: jobs of workers gone silent go back to `todo` (another worker takes them)."""
    manager = app.job_manager
    while True:
        await asyncio.sleep(research.heartbeat_seconds)
        try:
            stalled = await manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=research.stalled_after_seconds
            )
            for job in stalled:
                try:
                    await manager.retry_job(job)
                except ConnectorException:
                    continue  # another worker queued it again first
                logger.warning("research_job_retried", job_id=job.id, task=job.task_name,
                               attempts=job.attempts + 1, lost_worker=job.worker_id)  # fmt: skip
        except ConnectorException:
            logger.warning("research_stalled_jobs_unreadable", exc_info=True)


async def run_worker(config: AppConfig, *, name: str | None = None) -> None:
    """Run research jobs until SIGTERM / SIGINT (procrastinate's handlers): a job still
    running after HOOK_TIMEOUT_SECONDS is stopped and queued again for another worker."""
    research = config.research
    database = AsyncDatabaseManager(config.database)
    messaging = create_messaging(config.redis)
    bus = create_bus(config.stream, messaging)
    publisher = StreamPublisher(bus, messaging.cache)
    registry = load_registry(config.strategy.paths, entry_points=config.strategy.entry_points)
    reader = BarReader(database)
    runner = OptimizationRunner(
        config, database, registry, reader, publisher.publish_optimization_event,
        job_worker=True,
    )  # fmt: skip
    backtests = StoredBacktestRunner(config, database, registry, reader)
    app = build_job_app(config.database.url)
    await database.ping()
    metrics = await serve_metrics(config, research.metrics_port) if research.metrics_port else None
    await bus.start()
    await runner.start()
    stalled: asyncio.Task[None] | None = None
    try:
        async with app.open_async():
            stalled = asyncio.create_task(retry_stalled_jobs(app, research))
            await app.run_worker_async(
                queues=[QUEUE],
                name=name or f"{socket.gethostname()}-{config.replica_id}",
                concurrency=research.max_concurrent,
                additional_context={RUNNER: runner, BACKTESTS: backtests},
                update_heartbeat_interval=research.heartbeat_seconds,
                stalled_worker_timeout=research.stalled_after_seconds,
                shutdown_graceful_timeout=config.hook_timeout_seconds,
            )
    finally:
        if stalled is not None:
            stalled.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stalled
        await runner.stop()
        if metrics is not None:
            metrics.close()
        await bus.stop()
        await messaging.close()
        await database.dispose()
