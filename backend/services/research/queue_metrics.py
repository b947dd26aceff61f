"""QueueGauges: procrastinate's research queue as metrics, read from its table by the API."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.monitoring.metrics import RESEARCH_QUEUE_JOBS, RESEARCH_QUEUE_OLDEST_TODO
from backend.services.research.jobs import QUEUE

logger = structlog.get_logger(__name__)

_COUNTS = text(
    "SELECT status::text AS status, count(*) AS jobs FROM procrastinate_jobs"
    " WHERE queue_name = :queue AND status IN ('todo', 'doing') GROUP BY status"
)
# Since its last change of state (deferred, or queued again after a lost worker).
_OLDEST_TODO = text(
    "SELECT EXTRACT(EPOCH FROM now() - min(waiting.since)) FROM ("
    " SELECT max(event.at) AS since FROM procrastinate_jobs job"
    " JOIN procrastinate_events event ON event.job_id = job.id"
    " WHERE job.queue_name = :queue AND job.status = 'todo' GROUP BY job.id) AS waiting"
)


class QueueGauges:
    """Every `interval` seconds: jobs todo and doing, and the oldest todo job's wait."""

    def __init__(self, database: AsyncDatabaseManager, *, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read once now, then in the background."""
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="research-queue-gauges")

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        """Set the gauges from the table (left as they were when the database fails)."""
        try:
            async with self.database.read_connection() as connection:
                rows = (await connection.execute(_COUNTS, {"queue": QUEUE})).all()
                counts: dict[str, int] = {str(row.status): int(row.jobs) for row in rows}
                oldest = await connection.scalar(_OLDEST_TODO, {"queue": QUEUE})
        except (SQLAlchemyError, OSError):
            logger.warning("research_queue_unreadable", exc_info=True)
            return
        for status in ("todo", "doing"):
            RESEARCH_QUEUE_JOBS.labels(status=status).set(int(counts.get(status, 0)))
        RESEARCH_QUEUE_OLDEST_TODO.set(float(oldest or 0))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()
