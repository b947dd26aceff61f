"""OptimizationRunner: stored optimisations run on a local process pool, off the event loop.

The API records an optimisation (its request, settings and a reference to its bars: stored
history, or the upload kept in the row) and submits its id. The runner claims it (queued ->
running), writes its bars to a file the worker processes read, and runs the search on a thread
that hands each combination to the pool. Progress is written to the row and published on the
owner's WebSocket as it goes; a write that finds the row no longer running (cancelled, on any
replica) stops the search. Whatever this replica had not finished when it stopped is queued
again when it starts: nothing of an optimisation lives only in memory.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config.settings import AppConfig
from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.unit_of_work import UnitOfWork
from backend.core.lifecycle.cpu_priority import CpuPriority, lower_priority
from backend.core.monitoring.metrics import (
    RESEARCH_COMBINATIONS,
    RESEARCH_JOB_DURATION,
    RESEARCH_JOB_WAIT,
    RESEARCH_JOBS,
    RESEARCH_JOBS_QUEUED,
    RESEARCH_JOBS_RUNNING,
)
from backend.models.enums import OptimizationStatus
from backend.models.optimization import Optimization
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.history_feed import HistoryFeed
from backend.services.backtest.statistics import RatioSettings
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader
from backend.services.research.evaluation import ClassRef, SweepInputs, write_bars
from backend.services.research.search import (
    Sweep,
    SweepCancelledError,
    SweepOutcome,
    genetic_search,
    grid_search,
)
from backend.services.research.service import UNFINISHED, plan_sweep
from backend.services.strategy.errors import error_message
from backend.services.strategy.registry import StrategyRegistry

logger = structlog.get_logger(__name__)

Publish = Callable[[int, dict[str, Any]], None]
# Runs again after a worker process died under it, before the optimisation is failed.
MAX_RETRIES = 2


def research_pool(workers: int, cpu_priority: CpuPriority) -> ProcessPoolExecutor:
    """`workers` processes, spawned (nothing of the API process is inherited), each at
    `cpu_priority` before it runs anything."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=lower_priority,
        initargs=(cpu_priority,),
    )


def observe_wait(kind: str, created: datetime, started: datetime | None, attempt: int) -> None:
    """A research job's wait from enqueue (its row stored) to its first run's start."""
    if attempt == 1 and started is not None:
        waited = (started - created).total_seconds()
        RESEARCH_JOB_WAIT.labels(kind=kind).observe(max(0.0, waited))


def cost_model(settings: dict[str, Any]) -> tuple[CostModel, RatioSettings, datetime | None]:
    """The stored (resolved) settings as the backtest engine takes them."""
    costs = CostModel(
        capital=Decimal(settings["capital"]),
        rate=Decimal(settings.get("rate") or 0),
        slippage=Decimal(settings.get("slippage") or 0),
        size=Decimal(settings.get("size") or 1),
        pricetick=Decimal(settings.get("pricetick") or 0),
    )
    ratios = RatioSettings(settings["risk_free"], settings["annual_days"], settings["half_life"])
    start = settings.get("start")
    return costs, ratios, datetime.fromisoformat(start) if start else None


class OptimizationRunner:
    """At most `research.max_concurrent` optimisations at a time share `research.workers`
    worker processes (spawned: nothing of the API process is inherited)."""

    def __init__(
        self,
        config: AppConfig,
        database: AsyncDatabaseManager,
        registry: StrategyRegistry,
        reader: BarReader,
        publish: Publish,
        *,
        job_worker: bool = False,
    ) -> None:
        self.config = config
        # In a `redfire worker` the job engine decides what runs: a row still `running` is
        # one whose worker died (claimed again), and nothing is queued again at start.
        self.job_worker = job_worker
        self.research = config.research
        self.database = database
        self.registry = registry
        self.reader = reader
        self.publish = publish
        self.replica = config.replica_id
        self._slots = asyncio.Semaphore(self.research.max_concurrent)
        self._executor: ProcessPoolExecutor | None = None
        self._directory: Path | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancels: dict[int, threading.Event] = {}
        self._progress: dict[int, tuple[int, int, int]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}
        self._counted: dict[int, int] = {}
        self._attempts: dict[int, int] = {}
        self._requeued: set[int] = set()
        self._waiting: set[int] = set()
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the pool; queue again what this replica had not finished."""
        self._executor = self._new_pool()
        self._directory = Path(tempfile.mkdtemp(prefix="redfire-research-"))
        if self.job_worker:
            return
        async with self.database.session() as session:
            ids = await requeue_unfinished(session, self.replica)
        if ids:
            logger.warning("optimizations_requeued", count=len(ids))
        waiting, self._waiting = self._waiting, set()
        for optimization_id in sorted(set(ids) | waiting):
            self.submit(optimization_id)
        self._watch = asyncio.create_task(self._watch_orphans(), name="optimization-orphans")

    async def stop(self) -> None:
        """Stop the searches (their rows stay queued or running: the next start resumes
        them), then the pool."""
        for event in self._cancels.values():
            event.set()
        tasks = list(self._tasks.values()) + list(self._writers.values())
        if self._watch is not None:
            tasks.append(self._watch)
            self._watch = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    async def adopt(self, session: AsyncSession, departed: str) -> None:
        """A departed replica's unfinished optimisations become this replica's, queued again.

        Called in the transaction that settles the departed replica (a unit of work): they
        are submitted once it commits, so a claim reads them queued and this replica's on
        every database (SQLite has no row lock to wait on), and never if it rolls back (the
        next sweep adopts them again). Adopted before this runner has started (the first
        sweep runs at start-up), they run once it has.
        """
        ids = list(
            await session.scalars(
                select(Optimization.id)
                .where(Optimization.replica == departed, Optimization.status.in_(UNFINISHED))
                .order_by(Optimization.id)
            )
        )
        if not ids:
            return
        await session.execute(
            update(Optimization)
            .where(Optimization.id.in_(ids))
            .values(replica=self.replica, status=OptimizationStatus.QUEUED, done=0,
                    started_at=None, updated_at=utcnow())
        )  # fmt: skip
        logger.warning("optimizations_adopted", departed=departed, count=len(ids))

        async def submit_adopted() -> None:
            for optimization_id in ids:
                self.submit(optimization_id)

        UnitOfWork.of(session).after_commit(submit_adopted)

    def submit(self, optimization_id: int) -> None:
        """Run an optimisation whose row is committed (once, however often it is submitted);
        before `start` (a departed replica's, adopted by the first sweep), once started."""
        if optimization_id in self._tasks:
            return
        if self._executor is None:
            self._waiting.add(optimization_id)
            return
        task = asyncio.create_task(
            self._run(optimization_id), name=f"optimization-{optimization_id}"
        )
        self._tasks[optimization_id] = task
        RESEARCH_JOBS_QUEUED.inc()
        task.add_done_callback(lambda ended: self._ended(optimization_id, ended))

    async def run(self, optimization_id: int) -> None:
        """Run one optimisation here until it has its result (a worker's job). Cancelled, the
        search stops at its next combination and writes nothing."""
        self.submit(optimization_id)
        try:
            # A run retried after its worker process died is a new task (see _ended).
            while (task := self._tasks.get(optimization_id)) is not None:
                await asyncio.shield(task)
        except asyncio.CancelledError:
            self.cancel(optimization_id)
            raise

    def _ended(self, optimization_id: int, task: asyncio.Task[None]) -> None:
        self._tasks.pop(optimization_id, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            # A claim or a result write that failed (the database away): the row is still
            # this replica's, unfinished; the orphan watch runs it again.
            logger.error("optimization_task_failed", optimization_id=optimization_id,
                         error=repr(error))  # fmt: skip
        if optimization_id in self._requeued:
            self._requeued.discard(optimization_id)
            self.submit(optimization_id)

    async def _watch_orphans(self) -> None:
        while True:
            await asyncio.sleep(self.research.heartbeat_seconds)
            try:
                await self.resume_orphans()
            except Exception as exc:  # the database is away: look again next time
                logger.warning("optimization_orphans_not_checked", error=repr(exc))

    async def resume_orphans(self) -> list[int]:
        """Run again this replica's unfinished optimisations that no task here runs (every
        `research.heartbeat_seconds`): a claim or a result write that failed on a database
        error ended its task and left the row queued, or running, for no one. Returns them."""
        unfinished = (
            select(Optimization.id, Optimization.status, Optimization.attempt)
            .where(Optimization.replica == self.replica, Optimization.status.in_(UNFINISHED))
            .order_by(Optimization.id)
        )
        async with self.database.session() as session:
            rows = (await session.execute(unfinished)).all()
            orphans = [row for row in rows if row.id not in self._tasks]
            for row in orphans:
                if row.status == OptimizationStatus.RUNNING:
                    # Only the attempt seen: a run that finished meanwhile is left alone.
                    await requeue(session, row.id, row.attempt)
        if orphans:
            logger.warning("optimizations_resumed", ids=[row.id for row in orphans])
        for row in orphans:
            self.submit(row.id)
        return [row.id for row in orphans]

    def _renew_pool(self, broken: ProcessPoolExecutor | None) -> None:
        """A fresh pool in place of a broken one (once, however many jobs saw it break)."""
        if broken is None or self._executor is not broken:
            return
        self._executor = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        return research_pool(self.research.workers, self.research.cpu_priority)

    @property
    def worker_pids(self) -> list[int]:
        """The pool's worker processes now (started on the first combination)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return list(processes)

    def cancel(self, optimization_id: int) -> None:
        """Stop a search running here at its next combination (the row is already cancelled)."""
        event = self._cancels.get(optimization_id)
        if event is not None:
            event.set()

    @property
    def pending(self) -> int:
        """Optimisations queued or running here."""
        return len(self._tasks)

    async def _run(self, optimization_id: int) -> None:
        queued = True
        try:
            async with self._slots:
                RESEARCH_JOBS_QUEUED.dec()
                queued = False
                RESEARCH_JOBS_RUNNING.inc()
                try:
                    await self._run_claimed(optimization_id)
                finally:
                    RESEARCH_JOBS_RUNNING.dec()
        finally:
            if queued:
                RESEARCH_JOBS_QUEUED.dec()

    async def _run_claimed(self, optimization_id: int) -> None:
        async with self.database.session() as session:
            optimization = await claim(
                session, optimization_id, replica=self.replica, again=self.job_worker
            )
            if optimization is None:
                return
            bars_csv = await session.scalar(
                select(Optimization.bars_csv).where(Optimization.id == optimization_id)
            )
        user_id = optimization.user_id
        observe_wait("optimization", optimization.created_at, optimization.started_at,
                     optimization.attempt)  # fmt: skip
        self._publish(optimization, OptimizationStatus.RUNNING, 0)
        began = time.monotonic()
        cancelled = self._cancels.setdefault(optimization_id, threading.Event())
        path = self._bars_path(optimization_id)
        outcome: SweepOutcome | None = None
        error: str | None = None
        retry = False
        executor = self._executor
        try:
            await self._write_bars(optimization, bars_csv, path)
            outcome = await self._search(optimization, path, cancelled, executor)
        except SweepCancelledError:
            pass
        except BrokenProcessPool:
            # A worker process died (killed, out of memory): not the strategy's doing.
            self._renew_pool(executor)
            attempts = self._attempts[optimization_id] = self._attempts.get(optimization_id, 0) + 1
            retry = attempts <= MAX_RETRIES
            logger.warning("optimization_worker_lost", optimization_id=optimization_id,
                           attempt=attempts, retried=retry)  # fmt: skip
            if not retry:
                error = f"a worker process died {attempts} times running this optimisation"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("optimization_failed", optimization_id=optimization_id, exc_info=True)
            error = f"the optimisation failed: {error_message(exc)}"
        finally:
            self._cancels.pop(optimization_id, None)
            self._counted.pop(optimization_id, None)
            path.unlink(missing_ok=True)
        writer = self._writers.get(optimization_id)
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)
        RESEARCH_JOB_DURATION.observe(time.monotonic() - began)
        if retry:
            async with self.database.session() as session:
                requeued = await requeue(session, optimization.id, optimization.attempt)
            if requeued:  # runs again once this task has ended (see _ended)
                self._requeued.add(optimization_id)
                RESEARCH_JOBS.labels(outcome="retried").inc()
                return
            status = OptimizationStatus.CANCELLED
        else:
            async with self.database.session() as session:
                if outcome is not None:
                    status = await finish(session, optimization, outcome)
                elif error is not None:
                    status = await fail(session, optimization, error)
                else:
                    status = OptimizationStatus.CANCELLED
        self._attempts.pop(optimization_id, None)
        RESEARCH_JOBS.labels(outcome=status.value).inc()
        done = optimization.total if status is OptimizationStatus.FINISHED else None
        self.publish(
            user_id,
            {"id": optimization_id, "symbol": optimization.symbol, "status": status.value,
             "done": done, "total": optimization.total},
        )  # fmt: skip

    def _bars_path(self, optimization_id: int) -> Path:
        if self._directory is None:
            raise RuntimeError("the optimisation runner is not started")
        # A name never used before: workers keep parsed bars by file name, and ids come back
        # (a retried run, a table emptied and refilled).
        return self._directory / f"optimization-{optimization_id}-{uuid.uuid4().hex}.csv"

    async def _write_bars(
        self, optimization: Optimization, bars_csv: bytes | None, path: Path
    ) -> None:
        if bars_csv is not None:
            await asyncio.to_thread(path.write_bytes, gzip.decompress(bars_csv))
            return
        request = optimization.request
        feed = HistoryFeed(
            self.reader, asyncio.get_running_loop(), symbol=optimization.symbol,
            interval=BarInterval(request["interval"]),
            start=datetime.fromisoformat(request["start"]),
            end=datetime.fromisoformat(request["end"]),
        )  # fmt: skip

        def collect() -> None:
            bars = BarSeries.build(optimization.symbol, [], ([], [], [], []), [])
            for chunk in feed:
                bars.extend(chunk)
            write_bars(bars, path)

        await asyncio.to_thread(collect)

    async def _search(
        self,
        optimization: Optimization,
        path: Path,
        cancelled: threading.Event,
        executor: ProcessPoolExecutor | None,
    ) -> SweepOutcome:
        research = self.research
        plan = plan_sweep(
            self.registry,
            optimization.request,
            max_combinations=research.max_combinations,
            max_genetic_space=research.max_genetic_space,
        )
        entry = self.registry.entry(optimization.class_name)
        strategy = self.config.strategy
        ref = ClassRef.of(entry, tuple(str(p) for p in strategy.paths), strategy.entry_points)
        costs, ratios, start = cost_model(optimization.settings)
        inputs = SweepInputs(ref, str(path), optimization.symbol, costs, ratios, start)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(self._on_progress, optimization, done, total)

        if executor is None:
            raise RuntimeError("the optimisation runner is not started")
        sweep = Sweep(inputs, executor, total=plan.total, progress=progress,
                      cancelled=cancelled)  # fmt: skip
        target = optimization.target
        if plan.genetic is None:
            search = lambda: grid_search(plan.space, self.registry, sweep, target)  # noqa: E731
        else:
            genetic = plan.genetic
            search = lambda: genetic_search(plan.space, self.registry, sweep, target, genetic)  # noqa: E731
        return await asyncio.to_thread(search)

    def _on_progress(self, optimization: Optimization, done: int, total: int) -> None:
        RESEARCH_COMBINATIONS.inc(max(0, done - self._counted.get(optimization.id, 0)))
        self._counted[optimization.id] = done
        self._progress[optimization.id] = (optimization.user_id, done, total)
        writer = self._writers.get(optimization.id)
        if writer is None or writer.done():
            self._writers[optimization.id] = asyncio.create_task(
                self._write_progress(optimization), name=f"optimization-progress-{optimization.id}"
            )

    async def _write_progress(self, optimization: Optimization) -> None:
        # One write at a time per optimisation; the newest count wins, older ones are skipped.
        optimization_id = optimization.id
        while (latest := self._progress.pop(optimization_id, None)) is not None:
            _, done, _ = latest
            async with self.database.session() as session:
                still_running = await record_progress(session, optimization, done)
            if not still_running:
                self.cancel(optimization_id)
                return
            self._publish(optimization, OptimizationStatus.RUNNING, done)

    def _publish(self, optimization: Optimization, status: OptimizationStatus, done: int) -> None:
        self.publish(
            optimization.user_id,
            {"id": optimization.id, "symbol": optimization.symbol, "status": status.value,
             "done": done, "total": optimization.total},
        )  # fmt: skip


async def requeue_unfinished(session: AsyncSession, replica: str) -> list[int]:
    """The replica's queued or running optimisations, queued again from the start."""
    ids = list(
        await session.scalars(
            select(Optimization.id)
            .where(Optimization.replica == replica, Optimization.status.in_(UNFINISHED))
            .order_by(Optimization.id)
        )
    )
    if ids:
        await session.execute(
            update(Optimization)
            .where(Optimization.id.in_(ids), Optimization.status.in_(UNFINISHED))
            .values(status=OptimizationStatus.QUEUED, done=0, started_at=None,
                    updated_at=utcnow())
        )  # fmt: skip
    return ids


def _still_running(optimization_id: int, attempt: int) -> tuple[Any, ...]:
    """The row is running under the claim `attempt` (not cancelled, not claimed again since)."""
    return (
        Optimization.id == optimization_id,
        Optimization.status == OptimizationStatus.RUNNING,
        Optimization.attempt == attempt,
    )


def _still_mine(optimization: Optimization) -> tuple[Any, ...]:
    """The row is running under this run's claim (not cancelled, not claimed again since)."""
    return _still_running(optimization.id, optimization.attempt)


async def requeue(session: AsyncSession, optimization_id: int, attempt: int) -> bool:
    """running under `attempt` -> queued from the start (its worker died, or its task);
    False when it was cancelled, ended or claimed again meanwhile."""
    result = await session.execute(
        update(Optimization)
        .where(*_still_running(optimization_id, attempt))
        .values(status=OptimizationStatus.QUEUED, done=0, started_at=None, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def claim(
    session: AsyncSession, optimization_id: int, *, replica: str, again: bool = False
) -> Optimization | None:
    """queued -> running under a new attempt, on `replica` (the API replica or worker running
    it); None when it is not queued (cancelled, ended, taken). With `again` (a job retried
    after its worker died) a running row is claimed too: the run it leaves behind, if still
    alive somewhere, no longer writes (see `_still_mine`).

    The row is locked first: a replica adopting a departed one's optimisation submits it
    inside its own transaction, and on PostgreSQL an UPDATE whose WHERE fails on the last
    committed version (still `running`, the departed replica's) skips the row without waiting
    for that transaction. FOR UPDATE waits, then reads the version it committed."""
    row = (
        await session.execute(
            select(Optimization.status, Optimization.attempt)
            .where(Optimization.id == optimization_id)
            .with_for_update()
        )
    ).one_or_none()
    claimable = UNFINISHED if again else (OptimizationStatus.QUEUED,)
    if row is None or row.status not in claimable:
        return None
    now = utcnow()
    result = await session.execute(
        update(Optimization)
        .where(
            Optimization.id == optimization_id,
            Optimization.status.in_(claimable),
            Optimization.attempt == row.attempt,
        )
        .values(status=OptimizationStatus.RUNNING, attempt=row.attempt + 1, done=0,
                replica=replica, started_at=now, updated_at=now)
    )  # fmt: skip
    if not getattr(result, "rowcount", 0):
        return None
    optimization = await session.get(Optimization, optimization_id)
    if optimization is not None:
        await session.refresh(optimization)
        session.expunge(optimization)
    return optimization


async def record_progress(session: AsyncSession, optimization: Optimization, done: int) -> bool:
    """Write `done`; False when the optimisation is no longer this run's (cancelled)."""
    result = await session.execute(
        update(Optimization)
        .where(*_still_mine(optimization))
        .values(done=done, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def finish(
    session: AsyncSession, optimization: Optimization, outcome: SweepOutcome
) -> OptimizationStatus:
    """running -> finished with the best runs; cancelled when it was cancelled meanwhile."""
    top = int(optimization.request.get("top", 10))
    now = utcnow()
    result = await session.execute(
        update(Optimization)
        .where(*_still_mine(optimization))
        .values(
            status=OptimizationStatus.FINISHED,
            done=optimization.total,
            evaluated=outcome.evaluated,
            refused=outcome.refused,
            runs=[run.record() for run in outcome.runs[:top]],
            finished_at=now,
            updated_at=now,
        )
    )
    if getattr(result, "rowcount", 0):
        return OptimizationStatus.FINISHED
    return OptimizationStatus.CANCELLED


async def fail(session: AsyncSession, optimization: Optimization, error: str) -> OptimizationStatus:
    """running -> failed, saying why (a cancelled one stays cancelled)."""
    now = utcnow()
    result = await session.execute(
        update(Optimization)
        .where(*_still_mine(optimization))
        .values(status=OptimizationStatus.FAILED, error=error[:2000], finished_at=now,
                updated_at=now)
    )  # fmt: skip
    if getattr(result, "rowcount", 0):
        return OptimizationStatus.FAILED
    return OptimizationStatus.CANCELLED
