"""Retention: bars older than MARKET__RETENTION_DAYS (ticks: MARKET__TICK_RETENTION_DAYS) go.

On PostgreSQL whole monthly partitions past the cutoff are dropped (no row-by-row delete,
no bloat), then the rows before the cutoff in the month it falls in are deleted; on SQLite
the rows are deleted. The hourly rollups (PostgreSQL, rollups.py) of the expired hours go in
the same transaction as the rows, and the hour the cutoff falls in is recomputed. Every
hour, and at start-up, which also creates the partitions of the coming months. Any replica
may run it: partition changes are serialized and idempotent.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete

from backend.core.config.settings import MarketConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.market import MarketBar, MarketTick
from backend.services.market import rollups
from backend.services.market.partitions import Partitions

logger = structlog.get_logger(__name__)

INTERVAL_SECONDS = 3600.0


class Retention:
    """Drops and deletes old market history; creates partitions ahead of time."""

    def __init__(
        self, database: AsyncDatabaseManager, partitions: Partitions, config: MarketConfig
    ) -> None:
        self.database = database
        self.partitions = partitions
        self.config = config
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """One pass; how many partitions were dropped and rows deleted, per table."""
        now = now or datetime.now(UTC)
        await self.partitions.ensure_ahead(now, self.config.partitions_ahead_months)
        done: dict[str, int] = {}
        for model, days in ((MarketBar, self.config.retention_days),
                            (MarketTick, self.config.tick_retention_days)):  # fmt: skip
            if not days:
                continue
            table = model.__tablename__
            cutoff = now - timedelta(days=days)
            dropped = await self.partitions.drop_before(table, cutoff)
            async with self.database.session() as session:
                result = await session.execute(delete(model).where(model.datetime < cutoff))
                if model is MarketBar and self.partitions.enabled:
                    await rollups.expire(
                        rollups.sqlalchemy_execute(await session.connection()), cutoff
                    )
            deleted = int(getattr(result, "rowcount", 0) or 0)
            done[f"{table}_partitions_dropped"] = len(dropped)
            done[f"{table}_rows_deleted"] = deleted
            if dropped or deleted:
                logger.info("market_history_expired", table=table, partitions=dropped, rows=deleted)
        return done

    async def start(self) -> None:
        """Run now (without holding start-up up) and every hour."""
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="market-retention")

    async def stop(self) -> None:
        """Stop the hourly pass."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the database is away, a lock timed out: next hour
                logger.warning("market_retention_failed", error=repr(exc))
            await asyncio.sleep(INTERVAL_SECONDS)
