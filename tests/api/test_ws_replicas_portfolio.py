"""Across replicas: a client of replica B sees the orders (rejected ones included), fills,
positions and account changes its user makes on replica A, in `seq` order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.stream import WAIT, container_of, serve, started_app, ws_client
from tests.api.test_ws_portfolio import Reader
from tests.api.trading import quote
from tests.conftest import TEST_REDIS_URL

IF = "IF2412.CFFEX"
MARKET_BUY = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 2}


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="replicas share events through Redis")
async def test_a_client_of_another_replica_sees_every_order_and_its_portfolio(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    make_config: Callable[..., AppConfig],
) -> None:
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    async with started_app(make_config, replica_id="replica-b") as other, serve(other) as url:
        for replica in (container, container_of(other)):
            await asyncio.wait_for(replica.stream.bus.subscribed.wait(), WAIT)
        async with ws_client(url, token=trader.access_token) as ws:
            await ws.subscribe("position", "account")
            stream = Reader(ws, seq=1)
            await stream.until("account")

            # Rejected on replica A by risk: the order reaches B with its detail.
            limits = {"max_order_quantity": 1}
            changed = await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)
            assert changed.status_code == 200
            rejected = await _order(client, trader.headers)
            assert rejected["status"] == "rejected"
            pushed = await stream.until("order", id=rejected["id"])
            assert pushed["reject_detail"] == {
                "rule": "max_order_quantity",
                "limit": "1",
                "value": "2",
            }

            limits = {"max_order_quantity": 1000}
            changed = await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)
            assert changed.status_code == 200
            filled = await _order(client, trader.headers)
            await stream.until("trade", order_id=filled["id"])
            position = await stream.until("position", quantity=Decimal(2))
            account = await stream.until("account", margin=Decimal(2_100_000))
            positions = await client.get("/api/v1/positions", headers=trader.headers)
            assert positions.json() == [position]
            assert (await client.get("/api/v1/account", headers=trader.headers)).json() == account


async def _order(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=MARKET_BUY, headers=headers)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order
