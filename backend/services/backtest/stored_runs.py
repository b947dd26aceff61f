"""StoredBacktestRunner: a `redfire worker` runs a backtest from its row alone.

The row keeps the inputs (the upload gzipped, or the range of stored bars), so a backtest
whose worker was lost runs again on another. Each run claims the row under a new attempt and
writes its result only while the row is still its claim: one result per backtest.
"""

from __future__ import annotations

import asyncio
import gzip
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.settings import AppConfig
from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.backtest import Backtest
from backend.models.enums import BacktestStatus
from backend.services.backtest.bars import BarSeries, parse_csv_bars
from backend.services.backtest.engine import BacktestCancelledError, BacktestFailedError
from backend.services.backtest.history_feed import HistoryFeed
from backend.services.backtest.service import UNFINISHED, BacktestJob, finished_values
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader
from backend.services.research.runner import cost_model, observe_wait
from backend.services.strategy.errors import error_message
from backend.services.strategy.registry import StrategyRegistry

logger = structlog.get_logger(__name__)


async def claim_backtest(
    session: AsyncSession, backtest_id: int, *, replica: str
) -> Backtest | None:
    """queued (or running: its worker died) -> running under a new attempt, on `replica`;
    None when it has ended. The run it overtakes, if still alive, no longer writes."""
    row = (
        await session.execute(
            select(Backtest.status, Backtest.attempt)
            .where(Backtest.id == backtest_id)
            .with_for_update()
        )
    ).one_or_none()
    if row is None or row.status not in UNFINISHED:
        return None
    now = utcnow()
    result = await session.execute(
        update(Backtest)
        .where(Backtest.id == backtest_id, Backtest.status.in_(UNFINISHED),
               Backtest.attempt == row.attempt)
        .values(status=BacktestStatus.RUNNING, attempt=row.attempt + 1, replica=replica,
                started_at=now, updated_at=now)
    )  # fmt: skip
    if not getattr(result, "rowcount", 0):
        return None
    backtest = await session.get(Backtest, backtest_id)
    if backtest is not None:
        await session.refresh(backtest)
        session.expunge(backtest)
    return backtest


async def settle(session: AsyncSession, backtest: Backtest, values: dict[str, Any]) -> bool:
    """Write the run's result while the row is still its claim; False when overtaken."""
    result = await session.execute(
        update(Backtest)
        .where(Backtest.id == backtest.id, Backtest.status == BacktestStatus.RUNNING,
               Backtest.attempt == backtest.attempt)
        .values(updated_at=utcnow(), **values)
    )  # fmt: skip
    return bool(getattr(result, "rowcount", 0))


class StoredBacktestRunner:
    """Runs one backtest at a time per call, on a thread of the worker process."""

    def __init__(
        self,
        config: AppConfig,
        database: AsyncDatabaseManager,
        registry: StrategyRegistry,
        reader: BarReader,
    ) -> None:
        self.config = config
        self.database = database
        self.registry = registry
        self.reader = reader

    async def run(self, backtest_id: int) -> None:
        """Claim, rebuild the job from the row, run it, store its one result."""
        async with self.database.session() as session:
            backtest = await claim_backtest(session, backtest_id, replica=self.config.replica_id)
            if backtest is None:
                return
            observe_wait("backtest", backtest.created_at, backtest.started_at, backtest.attempt)
            bars_csv = await session.scalar(
                select(Backtest.bars_csv).where(Backtest.id == backtest_id)
            )
        job: BacktestJob | None = None
        try:
            job = await self._job(backtest, bars_csv)
            result = await asyncio.to_thread(job.execute)
        except asyncio.CancelledError:
            # Aborted (the backtest was cancelled) or the worker is stopping: the thread
            # stops within STOP_CHECK_BARS bars instead of running out its bars.
            if job is not None:
                job.stop.set()
            raise
        except BacktestCancelledError:
            return
        except Exception as exc:
            logger.warning("backtest_failed", backtest_id=backtest_id, exc_info=True)
            message = (
                str(exc)
                if isinstance(exc, BacktestFailedError)
                else f"the backtest failed: {error_message(exc)}"
            )
            values = {"status": BacktestStatus.FAILED, "error": message[:2000],
                      "finished_at": utcnow()}  # fmt: skip
        else:
            values = finished_values(result)
        async with self.database.session() as session:
            await settle(session, backtest, values)

    async def _job(self, backtest: Backtest, bars_csv: bytes | None) -> BacktestJob:
        entry = self.registry.entry(backtest.class_name)
        parameters = self.registry.validate(backtest.class_name, backtest.parameters)
        costs, ratios, start = cost_model(backtest.settings)
        limits = self.config.backtest
        symbol = backtest.symbol
        feed: HistoryFeed | None = None
        if bars_csv is not None:
            content = bars_csv

            def parse() -> BarSeries:
                return parse_csv_bars(
                    gzip.decompress(content), symbol=symbol, max_bars=limits.max_bars
                )

            bars = await asyncio.to_thread(parse)
        else:
            stored = backtest.request or {}
            feed = HistoryFeed(
                self.reader, asyncio.get_running_loop(), symbol=symbol,
                interval=BarInterval(stored["interval"]),
                start=datetime.fromisoformat(stored["start"]),
                end=datetime.fromisoformat(stored["end"]),
            )  # fmt: skip
            bars = BarSeries.build(symbol, [], ([], [], [], []), [])
        return BacktestJob(
            backtest.id, entry, parameters, bars, costs, ratios, limits.max_stored_trades,
            start, feed,
        )  # fmt: skip
