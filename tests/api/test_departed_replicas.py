"""A replica gone for good (a replaced pod): a live one settles what it left open."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import select, update

from backend.app.container import AppContainer
from backend.cli import main
from backend.core.config import AppConfig
from backend.core.config.sections import ReplicasConfig
from backend.main import create_app
from backend.models.backtest import Backtest
from backend.models.control import IdempotencyKey
from backend.models.enums import BacktestStatus, OrderSide, OrderStatus, OrderType
from backend.models.order import Order
from backend.models.replica import Replica
from backend.services.replicas.registry import ReplicaRegistry
from tests.api.conftest import MakeAccount
from tests.api.trading import quote, resting_buy, settle

IF = "IF2412.CFFEX"
LONG_AGO = timedelta(minutes=5)
HOST_CLOCK_READERS = (
    "backend.core.database.base",
    "backend.core.database.clock",
    "backend.services.replicas.registry",
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def _seed(
    container: AppContainer, user_id: int, replica: str, *, heartbeat: timedelta | None
) -> list[int]:
    """Open orders `replica` left behind (and its row, `heartbeat` ago, unless None)."""
    now = datetime.now(UTC)
    async with container.database.session() as session:
        if heartbeat is not None:
            seen = now - heartbeat
            session.add(Replica(id=replica, started_at=seen, heartbeat_at=seen))
        orders = [
            Order(
                user_id=user_id,
                symbol=IF,
                side=OrderSide.BUY,
                order_type=OrderType.LIMIT,
                quantity=Decimal(1),
                price=Decimal(3400),
                status=status,
                client_order_id=uuid.uuid4().hex,
                vt_orderid=vt_orderid,
                gateway="PAPER",
                replica=replica,
            )
            for status, vt_orderid in (
                (OrderStatus.PENDING, None),
                (OrderStatus.SUBMITTED, f"PAPER.{replica}-1"),  # its paper book died with it
            )
        ]
        session.add_all(orders)
        await session.flush()
        return [order.id for order in orders]


async def _orders(container: AppContainer, ids: list[int]) -> list[tuple[str, str | None, str]]:
    async with container.database.session() as session:
        rows = await session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.id))
        return [(row.status.value, row.reject_reason, row.replica) for row in rows]


def _heartbeats_lost() -> float:
    return REGISTRY.get_sample_value("redfire_replica_heartbeat_lost_total") or 0.0


async def _replicas(container: AppContainer) -> set[str]:
    async with container.database.session() as session:
        return set((await session.scalars(select(Replica.id))).all())


async def test_a_live_replica_settles_the_orders_and_backtests_of_a_departed_one(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
) -> None:
    trader = await make_account()
    departed = _name("replaced-pod")
    order_ids = await _seed(container, trader.id, departed, heartbeat=LONG_AGO)
    async with container.database.session() as session:
        session.add(
            IdempotencyKey(
                user_id=trader.id,
                key="died-with-its-pod",
                request_hash="0" * 64,
                order_id=order_ids[1],
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        backtest = Backtest(
            user_id=trader.id,
            status=BacktestStatus.RUNNING,
            class_name="MovingAverageStrategy",
            symbol=IF,
            source="csv",
            replica=departed,
        )
        session.add(backtest)

    survivor = create_app(make_config(replica_id=_name("survivor")))
    async with survivor.router.lifespan_context(survivor):
        await survivor.state.container.replicas.first_sweep.wait()

    rejected = ("rejected", "lost_on_restart", departed)
    assert await _orders(container, order_ids) == [rejected, rejected]
    assert departed not in await _replicas(container)
    async with container.database.session() as session:
        key = await session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.key == "died-with-its-pod")
        )
        assert key is not None
        assert key.response_status == 201
        answer = key.response_body
        failed = await session.get(Backtest, backtest.id, populate_existing=True)
        assert failed is not None
        assert failed.status is BacktestStatus.FAILED
        assert failed.error == "interrupted: its replica is gone"
    # The retry's answer is the order as stored, to the microsecond.
    read = await client.get(f"/api/v1/orders/{order_ids[1]}", headers=trader.headers)
    assert answer == read.json()


async def test_live_and_unregistered_replicas_are_left_alone(
    container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    alive, unregistered = _name("alive"), _name("before-heartbeats")
    alive_orders = await _seed(container, trader.id, alive, heartbeat=timedelta(seconds=5))
    # A replica that never wrote a row may be an older version still running mid-rollout.
    unregistered_orders = await _seed(container, trader.id, unregistered, heartbeat=None)

    assert await container.replicas.sweep() == []

    assert await _orders(container, alive_orders) == [
        ("pending", None, alive),
        ("submitted", None, alive),
    ]
    assert [status for status, _, _ in await _orders(container, unregistered_orders)] == [
        "pending",
        "submitted",
    ]
    assert alive in await _replicas(container)


async def test_an_order_the_gateway_still_knows_is_taken_over_and_keeps_moving(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers, price="3499.0")
    # As if another replica on the same broker session had sent it, then been replaced.
    departed = _name("replaced-pod")
    long_ago = datetime.now(UTC) - LONG_AGO
    async with container.database.session() as session:
        session.add(Replica(id=departed, started_at=long_ago, heartbeat_at=long_ago))
        await session.execute(
            update(Order).where(Order.id == placed["id"]).values(replica=departed)
        )

    assert await container.replicas.sweep() == [departed]

    me = container.config.replica_id
    assert await _orders(container, [placed["id"]]) == [("submitted", None, me)]
    await quote(container, IF, last="3498.8", bid="3498.6", ask="3498.8")
    await settle(container)
    order = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert (order["status"], order["avg_fill_price"]) == ("filled", "3498.80000000")


async def test_a_replica_settled_while_alive_registers_again(container: AppContainer) -> None:
    me = container.config.replica_id
    lost = _heartbeats_lost()  # read first: the app's own heartbeat may find the gap too
    async with container.database.session() as session:
        await session.execute(Replica.__table__.delete().where(Replica.id == me))

    await container.replicas.beat()

    assert _heartbeats_lost() == lost + 1
    assert me in await _replicas(container)
    await container.replicas.beat()  # a normal beat finds its row
    assert _heartbeats_lost() == lost + 1


def test_departure_needs_a_margin_of_missed_heartbeats() -> None:
    with pytest.raises(ValidationError, match="at least 3 heartbeats"):
        ReplicasConfig(heartbeat_seconds=10, departed_after_seconds=20)
    assert ReplicasConfig(heartbeat_seconds=10, departed_after_seconds=30).departed_after_seconds


@pytest.mark.usefixtures("cli_env")
async def test_an_operator_lists_replicas_and_marks_an_unregistered_one_departed(
    container: AppContainer, make_account: MakeAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    trader = await make_account()
    # Stopped before replicas kept heartbeats: no sweep settles it on its own.
    old = _name("before-heartbeats")
    order_ids = await _seed(container, trader.id, old, heartbeat=None)
    await container.replicas.register()
    me = container.config.replica_id

    assert await asyncio.to_thread(main, ["replicas"]) == 0
    listed = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert listed[old] == ["unregistered", "-", "2"]
    assert listed[me][0] == "alive"

    assert await asyncio.to_thread(main, ["replicas", "--mark-departed", me]) == 1
    assert "is alive" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["replicas", "--mark-departed", old]) == 0
    assert await container.replicas.sweep() == [old]
    rejected = ("rejected", "lost_on_restart", old)
    assert await _orders(container, order_ids) == [rejected, rejected]


async def test_a_replica_whose_host_clock_runs_behind_is_not_taken_for_silent(
    container: AppContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heartbeats go by the database's clock: a host two minutes slow still beats on time."""
    if container.config.database.is_sqlite:
        pytest.skip("one SQLite file, one host, one clock: PostgreSQL is where hosts differ")
    slow = ReplicaRegistry(container.database, container.config.replicas, replica=_name("slow"))
    late = datetime.now(UTC) - timedelta(minutes=2)
    for reader in HOST_CLOCK_READERS:  # every place this code reads the host's clock
        monkeypatch.setattr(f"{reader}.utcnow", lambda: late, raising=False)
    await slow.register()
    await slow.beat()
    monkeypatch.undo()

    assert slow.replica not in await container.replicas.sweep()
    assert slow.replica in await _replicas(container)
