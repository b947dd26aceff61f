"""One owner per running strategy across replicas, and takeover when the owner dies."""

from __future__ import annotations

import time

from backend.app.container import AppContainer
from backend.models.enums import StrategyStatus
from backend.models.strategy import Strategy
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.lease import LeaseStore
from tests.services.strategy.conftest import MakeEngine, MakeStrategy
from tests.services.strategy.support import wait_for

LEASE = 0.3
INTERVAL = 0.1


async def test_lease_store_semantics(shared_leases: LeaseStore) -> None:
    name = f"unit:{time.monotonic_ns()}"
    assert await shared_leases.acquire(name, "a", 5)
    assert await shared_leases.acquire(name, "a", 5)
    assert not await shared_leases.acquire(name, "b", 5)
    assert not await shared_leases.renew(name, "b", 5)
    assert await shared_leases.renew(name, "a", 5)
    await shared_leases.release(name, "b")
    assert await shared_leases.owner_of(name) == "a"
    await shared_leases.release(name, "a")
    assert await shared_leases.owner_of(name) is None


async def test_an_unrenewed_lease_expires(shared_leases: LeaseStore) -> None:
    name = f"expiry:{time.monotonic_ns()}"
    assert await shared_leases.acquire(name, "a", 0.15)

    async def free() -> bool:
        return await shared_leases.owner_of(name) is None

    await wait_for(free, within=2)
    assert not await shared_leases.renew(name, "a", 5)
    assert await shared_leases.acquire(name, "b", 5)


def kill(engine: StrategyEngine) -> None:
    """Simulate a dead replica: nothing runs any more, and nothing is released."""
    assert engine.reconcile_task is not None
    engine.reconcile_task.cancel()
    engine.reconcile_task = None
    for runner in engine.runners.values():
        assert runner.task is not None
        runner.task.cancel()
    engine.runners.clear()


async def test_two_replicas_run_a_strategy_once_and_take_over(
    shared_leases: LeaseStore, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    strategy_id = await make_strategy("TickCounter")
    timing = {"lease_seconds": LEASE, "renew_interval_seconds": INTERVAL}
    first = make_engine("replica-a", leases=shared_leases, **timing)
    second = make_engine("replica-b", leases=shared_leases, **timing)
    await first.start()
    await second.start()
    # Several renewal rounds later, still exactly one owner.
    for _ in range(3):
        await second.reconcile()
    assert list(first.runners) == [strategy_id]
    assert second.runners == {}
    assert await second.owner_of(strategy_id) == "replica-a"
    status = await second.get_strategy_status(strategy_id)
    assert status is not None
    assert status["owner"] == "replica-a"

    kill(first)
    died = time.monotonic()
    await wait_for(lambda: strategy_id in second.runners, within=LEASE + 10 * INTERVAL)
    assert time.monotonic() - died < LEASE + 3 * INTERVAL + 0.5
    assert await second.owner_of(strategy_id) == "replica-b"


async def test_a_stop_reaches_the_owner_from_any_replica(
    container: AppContainer,
    shared_leases: LeaseStore,
    make_engine: MakeEngine,
    make_strategy: MakeStrategy,
) -> None:
    strategy_id = await make_strategy("TickCounter")
    timing = {"lease_seconds": LEASE, "renew_interval_seconds": INTERVAL}
    owner = make_engine("replica-a", leases=shared_leases, **timing)
    other = make_engine("replica-b", leases=shared_leases, **timing)
    await owner.start()
    await other.start()
    assert strategy_id in owner.runners

    # The REST stop lands on the other replica: it commits the status and tells its engine.
    async with container.database.session() as session:
        row = await session.get(Strategy, strategy_id)
        assert row is not None
        row.status = StrategyStatus.STOPPED
    await other.stop_strategy(strategy_id)
    await wait_for(lambda: strategy_id not in owner.runners, within=LEASE + 10 * INTERVAL)

    async def released() -> bool:
        return await shared_leases.owner_of(f"strategy:{strategy_id}") is None

    await wait_for(released, within=1)
    assert other.runners == {}


async def test_a_replica_that_lost_its_lease_stops(
    shared_leases: LeaseStore, make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    strategy_id = await make_strategy("TickCounter")
    engine = make_engine("replica-a", leases=shared_leases, lease_seconds=LEASE)
    await engine.start()
    assert strategy_id in engine.runners
    # Its lease expired while it was stalled, and another replica took it.
    name = f"strategy:{strategy_id}"
    await shared_leases.release(name, "replica-a")
    assert await shared_leases.acquire(name, "replica-z", 5)
    await engine.reconcile()
    assert engine.runners == {}
    assert await shared_leases.owner_of(name) == "replica-z"
    await shared_leases.release(name, "replica-z")


async def test_lease_store_outage_stops_unconfirmed_strategies(
    make_engine: MakeEngine, make_strategy: MakeStrategy
) -> None:
    strategy_id = await make_strategy("TickCounter")
    engine = make_engine(lease_seconds=LEASE, renew_interval_seconds=INTERVAL)
    await engine.start()
    assert strategy_id in engine.runners

    async def unreachable(*_: object) -> bool:
        raise ConnectionError("lease store down")

    engine.leases.renew = unreachable  # type: ignore[method-assign]
    await wait_for(lambda: strategy_id not in engine.runners, within=LEASE + 10 * INTERVAL)
