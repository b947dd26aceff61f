"""WebSocket fan-out across replicas, slow clients, and the hub's shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from prometheus_client import REGISTRY

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from tests.api.conftest import MakeAccount
from tests.api.stream import (
    WAIT,
    StalledClient,
    container_of,
    serve,
    started_app,
    ws_client,
)
from tests.conftest import TEST_REDIS_URL

IF = "IF2412.CFFEX"
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


def inject(container: AppContainer, last: Decimal) -> None:
    """An IF2412 tick on this replica's PAPER market."""
    container.trading.market.paper_gateway(IF).inject_tick(IF, last_price=last)


async def _subscribed(*containers: AppContainer) -> None:
    for container in containers:
        await asyncio.wait_for(container.stream.bus.subscribed.wait(), WAIT)


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="replicas share invalidations through Redis")
async def test_a_logout_on_one_replica_closes_the_users_stream_on_another(
    client: httpx.AsyncClient, make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    async with started_app(make_config, replica_id="replica-b") as other, serve(other) as url:
        invalidations = container_of(other).security.invalidations
        assert container_of(other).messaging.shared
        await asyncio.wait_for(invalidations.listening.wait(), WAIT)
        async with ws_client(url, token=trader.access_token) as ws:
            await ws.subscribe(f"tick:{IF}")
            logout = await client.post("/api/v1/auth/logout", headers=trader.headers)
            assert logout.status_code == 204  # on replica A, the session app
            assert await ws.close_code() == POLICY_VIOLATION


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="replicas share events through Redis")
async def test_events_made_on_one_replica_reach_a_client_of_another(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
) -> None:
    trader = await make_account()
    async with started_app(make_config, replica_id="replica-b") as other, serve(other) as url:
        await _subscribed(container, container_of(other))
        async with ws_client(url, token=trader.access_token) as ws:
            await ws.subscribe(f"tick:{IF}", "order", "trade")
            inject(container, Decimal("3520.0"))  # replica A's market
            tick = await ws.expect("tick")
            assert Decimal(tick["data"]["last_price"]) == Decimal("3520.0")
            order = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
            response = await client.post("/api/v1/orders", json=order, headers=trader.headers)
            assert response.status_code == 201, response.text
            topics: set[str] = set()
            while topics != {"order", "trade"}:
                message = await ws.receive()
                topics.add(message["topic"])
                assert (
                    message["data"].get("order_id", message["data"]["id"])
                    == (response.json()["id"])
                )


def _dropped() -> float:
    return REGISTRY.get_sample_value("redfire_ws_dropped_clients_total") or 0.0


async def test_a_slow_client_is_dropped_while_a_fast_one_keeps_receiving(
    make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    slow_user, fast_user = await make_account(), await make_account()
    overrides = {"replica_id": "replica-small", "stream": {"ws_queue_size": 4}}
    async with started_app(make_config, **overrides) as small, serve(small) as url:
        replica = container_of(small)
        dropped = _dropped()
        slow = await StalledClient.connect(url, slow_user.access_token)
        try:
            async with ws_client(url, fast_user.access_token) as fast:
                await fast.subscribe(f"tick:{IF}")
                blob = "x" * 32_768
                for step in range(1, 1000):
                    event = {"step": step, "blob": blob}
                    replica.stream.publish_strategy_event(slow_user.id, event)
                    inject(replica, Decimal("3500") + Decimal(step) / 5)
                    assert (await fast.expect("tick"))["seq"] == step + 1
                    if _dropped() > dropped:
                        break
                assert _dropped() == dropped + 1
                assert await asyncio.wait_for(slow.close_code(), WAIT) == TRY_AGAIN_LATER
                inject(replica, Decimal("3400"))
                tick = await fast.expect("tick")
                assert Decimal(tick["data"]["last_price"]) == Decimal(3400)
        finally:
            slow.close()


async def test_stopping_the_hub_closes_clients_1001(
    make_account: MakeAccount, make_config: Callable[..., AppConfig]
) -> None:
    trader = await make_account()
    gauge = "redfire_ws_connections"
    async with started_app(make_config, replica_id="replica-c") as other, serve(other) as url:
        hub = container_of(other).stream.hub
        open_before = REGISTRY.get_sample_value(gauge) or 0.0
        async with ws_client(url, trader.access_token) as ws:
            await ws.subscribe("order")
            assert REGISTRY.get_sample_value(gauge) == open_before + 1
            await hub.stop()
            assert await ws.close_code() == GOING_AWAY
        assert hub.connection_count == 0
        assert REGISTRY.get_sample_value(gauge) == open_before
        async with ws_client(url, trader.access_token) as late:
            assert await late.close_code() == GOING_AWAY
