"""StrategyEngine: runs the strategies this replica owns and fans ticks out to them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import structlog
from pydantic import BaseModel

from backend.core.cache.invalidation import Invalidations
from backend.core.cache.protocol import Cache
from backend.core.config.settings import StrategyConfig
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.monitoring.metrics import ACTIVE_STRATEGIES, STRATEGIES_IN_ERROR
from backend.domain.market import OrderState, TickSnapshot, TradeFill
from backend.schemas.common import jsonable
from backend.services.strategy.announcements import StrategyAnnouncer, StrategyEventSink
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.classes import StrategyClassEntry, StrategyKind
from backend.services.strategy.errors import error_message
from backend.services.strategy.lease import LeaseStore, lease_name
from backend.services.strategy.ports import StrategyOrderGateway
from backend.services.strategy.registry import StrategyRegistry, default_registry
from backend.services.strategy.repository import StrategyRepository
from backend.services.strategy.runner import (
    StrategyProgress,
    StrategyRecord,
    StrategyRunner,
)

logger = structlog.get_logger(__name__)


STOP_PREFIX = "strategy-stop:"


class HostFactory(Protocol):
    """Builds the BaseStrategy that runs a class of another kind (a vnpy CTA class's host)."""

    def __call__(
        self,
        entry: StrategyClassEntry,
        record: StrategyRecord,
        parameters: BaseModel,
        orders: StrategyOrderGateway,
    ) -> BaseStrategy:
        """The strategy object for `record`."""
        ...


def status_key(strategy_id: int) -> str:
    """Cache key of the owner's latest status snapshot, readable by every replica."""
    return f"strategy:{strategy_id}:status"


def stop_notice(strategy_id: int) -> str:
    """The invalidation that tells the strategy's owner, on any replica, to stop it now."""
    return f"{STOP_PREFIX}{strategy_id}"


class StrategyEngine:
    """Desired state lives in the database (`status`); the lease holder runs a strategy.

    A reconcile pass every `renew_interval_seconds` starts what this replica can own, renews
    its leases, and stops what is no longer wanted or no longer its own. A stop requested on
    another replica is also announced (`stop_notice`): the owner reconciles at once instead of
    trading on until its next pass.
    """

    def __init__(
        self,
        *,
        config: StrategyConfig,
        replica_id: str,
        database: AsyncDatabaseManager,
        cache: Cache,
        leases: LeaseStore,
        orders: StrategyOrderGateway,
        registry: StrategyRegistry | None = None,
        notices: Invalidations | None = None,
        cta: HostFactory | None = None,
        publish: StrategyEventSink | None = None,
    ) -> None:
        self.config = config
        self.announce = StrategyAnnouncer(publish, replica_id=replica_id)
        self.notices = notices
        self.replica_id = replica_id
        self.database = database
        self.cache = cache
        self.leases = leases
        self.orders = orders
        self.registry = registry or default_registry()
        self.cta = cta
        self.runners: dict[int, StrategyRunner] = {}
        self.reconcile_task: asyncio.Task[None] | None = None
        self._by_symbol: dict[str, tuple[StrategyRunner, ...]] = {}
        self._failed: dict[int, str] = {}
        # What was last written of each local strategy's progress (unchanged ones are skipped).
        self._reported: dict[int, StrategyProgress] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        if notices is not None:
            notices.add_listener(self.on_notice)

    async def start(self) -> None:
        """Resume (or, if disabled, stop orphaned) running strategies, then keep reconciling."""
        if not self.config.resume_on_start:
            await self._stop_orphans()
        await self.reconcile()
        self.reconcile_task = asyncio.create_task(self._reconcile_forever(), name="strategies")

    async def stop(self) -> None:
        """Stop every local strategy and hand its lease back, so another replica can go on."""
        if self.reconcile_task is not None:
            self.reconcile_task.cancel()
            await asyncio.gather(self.reconcile_task, return_exceptions=True)
            self.reconcile_task = None
        async with self._lock:
            for strategy_id in list(self.runners):
                await self._stop_local(strategy_id, release=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def on_tick(self, tick: TickSnapshot) -> None:
        """Queue the tick for every strategy running here on its symbol."""
        runners = self._by_symbol.get(tick.symbol)
        if runners:
            for runner in runners:
                runner.offer(tick)

    async def on_order(self, order: OrderState, *, strategy_id: int) -> None:
        """Queue a change of one of the strategy's orders (`order` as now committed)."""
        runner = self.runners.get(strategy_id)
        if runner is not None:
            runner.offer(order)

    async def on_trade(self, fill: TradeFill, *, strategy_id: int) -> None:
        """Queue a fill of one of the strategy's orders; its position follows."""
        runner = self.runners.get(strategy_id)
        if runner is not None:
            runner.offer(fill)

    async def start_strategy(self, record: StrategyRecord) -> None:
        """Run it here now if this replica can own it; otherwise its owner's loop will."""
        async with self._lock:
            self._failed.pop(record.id, None)
            if record.id in self.runners:
                return
            lease_until = await self._acquire(record.id)
            if lease_until is not None:
                await self._launch(record, lease_until)

    async def stop_strategy(self, strategy_id: int) -> None:
        """Stop it here now if it runs here, and tell its owner if it runs elsewhere.

        Call it once the stop (desired state) is committed: the owner reads it back.
        """
        async with self._lock:
            running_here = strategy_id in self.runners
            if running_here:
                await self._stop_local(strategy_id, release=True)
        await self.cache.delete(status_key(strategy_id))
        if not running_here and self.notices is not None:
            await self.notices.publish(stop_notice(strategy_id))

    def on_notice(self, key: str) -> None:
        """A stop was requested on another replica: reconcile now if the strategy runs here."""
        named = key.removeprefix(STOP_PREFIX)
        if key.startswith(STOP_PREFIX) and named.isdigit() and int(named) in self.runners:
            self._spawn(self._reconcile_logged())

    async def get_strategy_status(self, strategy_id: int) -> dict[str, Any] | None:
        """Live status from this replica, or the owner's latest snapshot, or None."""
        runner = self.runners.get(strategy_id)
        if runner is not None:
            return await self._snapshot(runner)
        snapshot = await self.cache.get(status_key(strategy_id))
        return snapshot if isinstance(snapshot, dict) else None

    async def owner_of(self, strategy_id: int) -> str | None:
        """The replica holding the strategy's lease."""
        if strategy_id in self.runners:
            return self.replica_id
        return await self.leases.owner_of(lease_name(strategy_id))

    async def flush(self) -> None:
        """Wait until every local strategy has handled every queued event."""
        for runner in list(self.runners.values()):
            await runner.wait_idle()

    async def reconcile(self) -> None:
        """One pass: run what is wanted and ownable, stop what is unwanted or lost."""
        async with self._lock:
            await self._persist_failures()
            async with self.database.session() as session:
                repository = StrategyRepository(session)
                wanted = {record.id: record for record in await repository.list_running()}
                STRATEGIES_IN_ERROR.set(await repository.count_in_error())
            for strategy_id in list(self.runners):
                if strategy_id not in wanted:
                    await self._stop_local(strategy_id, release=True)
            for strategy_id, record in wanted.items():
                if strategy_id in self._failed:
                    continue
                runner = self.runners.get(strategy_id)
                if runner is not None:
                    await self._renew(runner)
                elif (lease_until := await self._acquire(strategy_id)) is not None:
                    await self._launch(record, lease_until)
            await self._publish_snapshots()
            await self._record_progress(list(self.runners.values()))

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.renew_interval_seconds)
            await self._reconcile_logged()

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            logger.exception("strategy_reconcile_failed")
            await self._drop_unconfirmed()

    async def _acquire(self, strategy_id: int) -> float | None:
        """Take or extend the lease; the monotonic time it is sure to last until, or None."""
        ttl = self.config.lease_seconds
        deadline = time.monotonic() + ttl
        if await self.leases.acquire(lease_name(strategy_id), self.replica_id, ttl):
            return deadline
        return None

    async def _renew(self, runner: StrategyRunner) -> None:
        ttl = self.config.lease_seconds
        deadline = time.monotonic() + ttl
        if await self.leases.renew(lease_name(runner.record.id), self.replica_id, ttl):
            runner.lease_until = deadline
        else:
            logger.warning("strategy_lease_lost", strategy_id=runner.record.id)
            await self._stop_local(runner.record.id, release=False)

    async def _drop_unconfirmed(self) -> None:
        # The lease store could not be reached: never run past a lease we cannot prove.
        now = time.monotonic()
        async with self._lock:
            for strategy_id, runner in list(self.runners.items()):
                if runner.lease_until <= now:
                    await self._stop_local(strategy_id, release=False)

    async def _launch(self, record: StrategyRecord, lease_until: float) -> None:
        try:
            strategy = self._build(record)
            strategy.orders_placed = record.orders_placed  # counted on from the last report
            strategy.events = self.announce.events_of(record)
            await strategy.initialize()
            await strategy.start()
        except Exception as exc:
            logger.warning("strategy_start_failed", strategy_id=record.id, exc_info=True)
            await self.leases.release(lease_name(record.id), self.replica_id)
            self._failed[record.id] = error_message(exc)
            self.announce.lifecycle(record, "error", message=self._failed[record.id])
            await self._persist_failures()
            return
        runner = StrategyRunner(record, strategy, on_failure=self._runner_failed)
        runner.lease_until = lease_until
        runner.start()
        self.runners[record.id] = runner
        self._index()
        logger.info("strategy_running", strategy_id=record.id, replica=self.replica_id)
        self.announce.lifecycle(record, "started")

    def _build(self, record: StrategyRecord) -> BaseStrategy:
        """The strategy object of the record: its RedFire class, or a vnpy CTA class's host."""
        entry = self.registry.entry(record.class_name)
        parameters = self.registry.validate(record.class_name, record.parameters)
        if entry.kind is StrategyKind.CTA:
            if self.cta is None:
                raise RuntimeError("this engine runs no vnpy CTA strategies")
            return self.cta(entry, record, parameters, self.orders)
        strategy_class = self.registry.get(record.class_name)
        return strategy_class(
            record.id,
            parameters,
            user_id=record.user_id,
            symbol=record.symbol,
            orders=self.orders,
        )

    async def _stop_local(self, strategy_id: int, *, release: bool) -> None:
        runner = self.runners.pop(strategy_id, None)
        if runner is None:
            return
        self._index()
        try:
            await runner.stop()
        except Exception:
            logger.warning("strategy_stop_unclean", strategy_id=strategy_id, exc_info=True)
        await self._record_final_progress(runner)
        if release:
            await self.leases.release(lease_name(strategy_id), self.replica_id)
        self.announce.lifecycle(runner.record, "stopped")

    def _runner_failed(self, runner: StrategyRunner, exc: BaseException) -> None:
        """Isolate a failing strategy at once; stop it, free its lease, persist the error."""
        strategy_id = runner.record.id
        logger.error("strategy_failed", strategy_id=strategy_id, exc_info=exc)
        if self.runners.get(strategy_id) is runner:
            del self.runners[strategy_id]
            self._index()
        self._failed[strategy_id] = error_message(exc)
        self.announce.lifecycle(runner.record, "error", message=self._failed[strategy_id])
        self._spawn(self._retire(runner))

    async def _retire(self, runner: StrategyRunner) -> None:
        try:
            await runner.stop()
        except Exception:
            logger.warning(
                "failed_strategy_stop_unclean", strategy_id=runner.record.id, exc_info=True
            )
        await self._record_final_progress(runner)
        await self.leases.release(lease_name(runner.record.id), self.replica_id)
        async with self._lock:
            await self._persist_failures()

    async def _persist_failures(self) -> None:
        if not self._failed:
            return
        failed = dict(self._failed)
        async with self.database.session() as session:
            repository = StrategyRepository(session)
            for strategy_id, message in failed.items():
                await repository.mark_error(strategy_id, message)
        for strategy_id, message in failed.items():
            if self._failed.get(strategy_id) == message:
                del self._failed[strategy_id]
        for strategy_id in failed:
            await self.cache.delete(status_key(strategy_id))

    async def _stop_orphans(self) -> None:
        async with self.database.session() as session:
            repository = StrategyRepository(session)
            running = await repository.list_running()
            orphans = [r.id for r in running if await self.owner_of(r.id) is None]
            await repository.mark_stopped(orphans)

    async def _record_progress(self, runners: list[StrategyRunner]) -> None:
        """Keep the runners' counters and positions with their strategies (what changed)."""
        reports = [runner.progress() for runner in runners]
        changed = [report for report in reports if self._reported.get(report.strategy_id) != report]
        if not changed:
            return
        async with self.database.session() as session:
            await StrategyRepository(session).record_progress(changed)
        for report in changed:
            self._reported[report.strategy_id] = report

    async def _record_final_progress(self, runner: StrategyRunner) -> None:
        """The stopped strategy's last counters and position: what its status shows from now."""
        try:
            await self._record_progress([runner])
        except Exception:
            logger.warning(
                "strategy_progress_not_recorded", strategy_id=runner.record.id, exc_info=True
            )
        self._reported.pop(runner.record.id, None)

    async def _publish_snapshots(self) -> None:
        ttl = self.config.lease_seconds
        for runner in list(self.runners.values()):
            await self.cache.set(status_key(runner.record.id), await self._snapshot(runner), ttl)

    async def _snapshot(self, runner: StrategyRunner) -> dict[str, Any]:
        status = await runner.status()
        status["owner"] = self.replica_id
        return dict(jsonable(status, scaled=True))

    def _index(self) -> None:
        by_symbol: dict[str, list[StrategyRunner]] = {}
        for runner in self.runners.values():
            by_symbol.setdefault(runner.record.symbol, []).append(runner)
        self._by_symbol = {symbol: tuple(runners) for symbol, runners in by_symbol.items()}
        ACTIVE_STRATEGIES.set(len(self.runners))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
