"""StrategyControl: the classes one may run, start and stop, and the live status."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.enums import StrategyStatus
from backend.models.strategy import Strategy
from backend.schemas.strategies import StrategyClassRead, StrategyStatusRead
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.repository import to_record
from backend.services.strategy.service import StrategyService


class StrategyControl:
    """The stored desired state (StrategyService) and this replica's engine, acting on it."""

    def __init__(self, strategies: StrategyService, engine: StrategyEngine) -> None:
        self.strategies = strategies
        self.engine = engine

    def classes(self) -> list[StrategyClassRead]:
        """Every class, RedFire's and vnpy CTA ones, with its parameter schema or why it is
        unusable."""
        return [
            StrategyClassRead(
                class_name=entry.class_name,
                kind=entry.kind.value if entry.kind else None,
                description=entry.description,
                available=entry.available,
                reason=entry.reason,
                parameters=entry.parameters,
                variables=entry.variables,
                source=entry.source,
            )
            for entry in self.engine.registry.describe()
        ]

    async def start(self, work: UnitOfWork, *, user_id: int, strategy_id: int) -> Strategy:
        """Desired state running; this replica runs it at once if it can own it.

        The engine works in its own sessions and other replicas read the status, so it starts
        after the commit; the answer shows what starting did, so the commit happens here.
        """
        strategy = await self.strategies.request_start(
            work.session, user_id=user_id, strategy_id=strategy_id
        )
        record = to_record(strategy)

        async def start() -> None:
            await self.engine.start_strategy(record)

        work.after_commit(start)
        await work.commit()
        await work.session.refresh(strategy)
        return strategy

    async def stop(self, work: UnitOfWork, *, user_id: int, strategy_id: int) -> Strategy:
        """Desired state stopped; its owner stops it, on whichever replica it runs, once the
        request commits."""
        strategy = await self.strategies.request_stop(
            work.session, user_id=user_id, strategy_id=strategy_id
        )
        target = strategy.id

        async def stop() -> None:
            await self.engine.stop_strategy(target)

        work.after_commit(stop)
        return strategy

    async def status(
        self, session: AsyncSession, *, user_id: int, strategy_id: int
    ) -> StrategyStatusRead:
        """Live status from the replica that runs it; otherwise what it last reported
        (counters, position, last event), kept with the strategy when it stopped."""
        strategy = await self.strategies.get(session, user_id=user_id, strategy_id=strategy_id)
        engine = self.engine
        live: dict[str, Any] = {}
        if strategy.status is StrategyStatus.RUNNING:
            live = await engine.get_strategy_status(strategy.id) or {}
        if not live:
            return StrategyStatusRead(
                strategy_id=strategy.id,
                status=strategy.status,
                running=False,
                config=strategy.parameters,
                position=strategy.position,
                ticks_processed=strategy.ticks_processed,
                orders_placed=strategy.orders_placed,
                last_error=strategy.last_error,
                last_update=strategy.last_update,
                owner=await engine.owner_of(strategy.id),
                variables=strategy.variables,
            )
        return StrategyStatusRead(
            strategy_id=strategy.id,
            status=strategy.status,
            running=bool(live.get("running", False)),
            config=live.get("config", strategy.parameters),
            position=live.get("position"),
            ticks_processed=live.get("ticks_processed", 0),
            orders_placed=live.get("orders_placed", 0),
            last_error=strategy.last_error,
            last_update=live.get("last_update"),
            owner=live.get("owner") or await engine.owner_of(strategy.id),
            indicators=live.get("indicators"),
            variables=live.get("variables"),
        )
