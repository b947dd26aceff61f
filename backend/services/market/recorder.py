"""BarRecorder: every tick this replica receives becomes part of a stored one-minute bar.

The tick callback only updates the forming bar in memory (generator.py); finished bars (and,
with MARKET__RECORD_TICKS, the raw ticks) wait in a list that a background task writes in
one transaction every MARKET__FLUSH_INTERVAL_SECONDS. A bar whose symbol has gone quiet for
MARKET__IDLE_CLOSE_SECONDS is written too, and at shutdown every forming bar is: the next run
continues that minute in a bar of its own, which the store merges (bar.py). Writes that fail
(the database is away) are kept and tried again, up to MARKET__MAX_PENDING_BARS.

Replicas sharing Redis share one PAPER market and each records it: merging makes the second
write of a minute change nothing, and a replica that was down for part of a minute is
completed by one that was not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from backend.core.config.settings import MarketConfig
from backend.core.monitoring.metrics import (
    BAR_WRITE_ERRORS,
    BARS_DROPPED,
    BARS_PENDING,
    BARS_WRITTEN,
)
from backend.services.market.bar import Bar
from backend.services.market.generator import MinuteBars
from backend.services.market.pages import RECENT, BarPages
from backend.services.market.store import BarStore
from backend.services.vnpy.types import TickSnapshot

logger = structlog.get_logger(__name__)


class BarRecorder:
    """Bridge tick subscriber (`on_tick`) and the task that writes what it aggregated."""

    def __init__(
        self,
        store: BarStore,
        config: MarketConfig,
        *,
        pages: BarPages | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config
        self.pages = pages
        self.bars = MinuteBars(clock)
        self._pending: list[Bar] = []
        self._ticks: list[TickSnapshot] = []
        self._record_ticks = config.record_ticks
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Aggregate one tick; never touches the database."""
        finished = self.bars.update(tick)
        if finished is not None:
            self._pending.append(finished)
            if len(self._pending) > self.config.max_pending_bars:
                self._drop(self._pending)
        if self._record_ticks:
            self._ticks.append(tick)
            if len(self._ticks) > self.config.max_pending_bars:
                self._drop(self._ticks)

    @property
    def pending(self) -> int:
        """Finished bars and ticks not yet written."""
        return len(self._pending) + len(self._ticks)

    async def start(self) -> None:
        """Start writing every flush interval."""
        if self._task is None:
            self._task = asyncio.create_task(self._write_forever(), name="bar-recorder")

    async def stop(self) -> None:
        """Write every finished and forming bar, so a restart loses no minute."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await self.write_all()
        except Exception as exc:
            BAR_WRITE_ERRORS.inc()
            logger.error("bars_lost_at_shutdown", bars=len(self._pending), error=repr(exc))

    async def write_all(self) -> None:
        """Close every forming bar and write it with what is waiting (a forming bar is
        otherwise written once idle; a later tick of its minute merges into the row)."""
        self._pending += self.bars.close_all()
        await self.flush()

    async def flush(self) -> None:
        """Write what is waiting now (raises when the database refuses; the rows are kept)."""
        async with self._lock:
            bars, self._pending = self._pending, []
            ticks, self._ticks = self._ticks, []
            try:
                written = await self.store.write_bars(bars)
                await self.store.write_ticks(ticks)
            except BaseException:
                self._pending[:0] = bars
                self._ticks[:0] = ticks
                raise
            finally:
                BARS_PENDING.set(self.pending)
            BARS_WRITTEN.inc(written)
            if self.pages is not None:
                # Old minutes (a replay of old ticks): pages already served may show them.
                settled = datetime.now(UTC) - RECENT
                await self.pages.changed({bar.symbol for bar in bars if bar.datetime < settled})

    async def _write_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval_seconds)
            self._pending += self.bars.close_idle(self.config.idle_close_seconds)
            if not self.pending:
                continue
            try:
                await self.flush()
            except Exception as exc:
                BAR_WRITE_ERRORS.inc()
                logger.warning("bars_not_written", pending=self.pending, error=repr(exc))

    def _drop(self, waiting: list[Bar] | list[TickSnapshot]) -> None:
        excess = len(waiting) - self.config.max_pending_bars
        del waiting[:excess]
        BARS_DROPPED.inc(excess)
