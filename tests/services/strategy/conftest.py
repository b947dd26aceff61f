"""Fixtures for the strategy engine: engines on this run's database, users and strategy rows."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from backend.app.container import AppContainer
from backend.core.config.settings import StrategyConfig
from backend.core.messaging import LeaseStore, MemoryLeaseStore, RedisLeaseStore, RedisMessaging
from backend.models.enums import StrategyStatus
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.registry import StrategyRegistry, default_registry
from tests.conftest import TEST_REDIS_URL
from tests.services.strategy.support import (
    SYMBOL,
    BrokenInitStrategy,
    DecimalTroubleStrategy,
    ExplodingStrategy,
    RecordingOrderGateway,
    TickCounter,
    app_engine_paused,
)

_numbers = itertools.count(1)
MakeEngine = Callable[..., StrategyEngine]
MakeStrategy = Callable[..., Awaitable[int]]


def test_registry() -> StrategyRegistry:
    """The built-in classes plus the test doubles."""
    registry = default_registry()
    for strategy_class in (
        TickCounter, ExplodingStrategy, DecimalTroubleStrategy, BrokenInitStrategy
    ):  # fmt: skip
        registry.register(strategy_class)
    return registry


test_registry.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def orders() -> RecordingOrderGateway:
    """The recording order port."""
    return RecordingOrderGateway()


@pytest.fixture(params=["memory", "redis"])
def shared_leases(request: pytest.FixtureRequest, container: AppContainer) -> LeaseStore:
    """One lease store shared by several engines: in memory, and in Redis when configured."""
    if request.param == "memory":
        return MemoryLeaseStore()
    messaging = container.messaging
    if TEST_REDIS_URL is None or not isinstance(messaging, RedisMessaging):
        pytest.skip("TEST_REDIS_URL not set")
    return RedisLeaseStore(messaging.client, messaging.prefix + "strategy-test:")


@pytest.fixture
async def make_engine(
    container: AppContainer, orders: RecordingOrderGateway
) -> AsyncIterator[MakeEngine]:
    """Build engines on the test database; every one is stopped at the end."""
    engines: list[StrategyEngine] = []

    def factory(
        replica_id: str = "replica-a",
        *,
        leases: LeaseStore | None = None,
        lease_seconds: float = 10.0,
        renew_interval_seconds: float = 3.0,
        resume_on_start: bool = True,
        **overrides: Any,
    ) -> StrategyEngine:
        config = StrategyConfig(
            lease_seconds=lease_seconds,
            renew_interval_seconds=renew_interval_seconds,
            resume_on_start=resume_on_start,
        )
        values: dict[str, Any] = {
            "config": config,
            "replica_id": replica_id,
            "database": container.database,
            "cache": container.cache,
            "leases": leases or MemoryLeaseStore(),
            "orders": orders,
            "registry": test_registry(),
        }
        engine = StrategyEngine(**{**values, **overrides})
        engines.append(engine)
        return engine

    async with app_engine_paused(container):
        try:
            yield factory
        finally:
            for engine in engines:
                await engine.stop()


@pytest.fixture
async def user_id(container: AppContainer) -> int:
    """A trader who owns the test strategies."""
    number = next(_numbers)
    async with container.database.session() as session:
        user = User(
            username=f"strategist{number}",
            email=f"strategist{number}@example.com",
            hashed_password="not-a-hash",
        )
        session.add(user)
        await session.flush()
        return user.id


@pytest.fixture
def make_strategy(container: AppContainer, user_id: int) -> MakeStrategy:
    """Insert a strategy row; returns its id."""

    async def factory(
        class_name: str = "MovingAverageStrategy",
        *,
        symbol: str = SYMBOL,
        parameters: dict[str, Any] | None = None,
        status: StrategyStatus = StrategyStatus.RUNNING,
    ) -> int:
        async with container.database.session() as session:
            strategy = Strategy(
                user_id=user_id,
                name=f"strategy-{next(_numbers)}",
                class_name=class_name,
                symbol=symbol,
                parameters=parameters or {},
                status=status,
            )
            session.add(strategy)
            await session.flush()
            return strategy.id

    return factory


async def stored(container: AppContainer, strategy_id: int) -> Strategy:
    """The strategy row as committed."""
    async with container.database.session() as session:
        strategy = await session.get(Strategy, strategy_id)
        assert strategy is not None
        return strategy
