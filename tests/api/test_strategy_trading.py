"""Strategies trading through the real order path: orders carry strategy_id, risk applies."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import Account, MakeAccount
from tests.api.trading import quote, settle

IF = "IF2412.CFFEX"
PARAMETERS = {"fast_window": 2, "slow_window": 3, "warmup_ticks": 4, "fixed_size": "1"}
# Falling, then rising: the 2-tick average crosses above the 3-tick one on the last tick.
PRICES = ["3500.0", "3499.0", "3498.0", "3497.0", "3496.0", "3502.0", "3510.0"]


async def _start_strategy(client: httpx.AsyncClient, trader: Account) -> int:
    body = {
        "name": "ma",
        "class_name": "MovingAverageStrategy",
        "symbol": IF,
        "parameters": PARAMETERS,
    }
    created = await client.post("/api/v1/strategies", json=body, headers=trader.headers)
    assert created.status_code == 201, created.text
    strategy_id = int(created.json()["id"])
    started = await client.post(f"/api/v1/strategies/{strategy_id}/start", headers=trader.headers)
    assert started.json()["status"] == "running"
    return strategy_id


async def _feed(container: AppContainer) -> None:
    for price in PRICES:
        await quote(container, IF, last=price, bid=price, ask=str(Decimal(price) + Decimal("0.2")))
        async with asyncio.timeout(10):
            await container.strategies.flush()
    await settle(container)


async def test_a_golden_cross_buys_through_the_order_service(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    strategy_id = await _start_strategy(client, trader)
    await _feed(container)
    orders = (await client.get("/api/v1/orders", headers=trader.headers)).json()["items"]
    assert [(o["side"], o["strategy_id"], o["status"]) for o in orders] == [
        ("BUY", strategy_id, "filled")
    ]
    async with asyncio.timeout(10):
        await container.strategies.flush()
    status = (
        await client.get(f"/api/v1/strategies/{strategy_id}/status", headers=trader.headers)
    ).json()
    assert status["running"] is True
    assert Decimal(status["position"]) == 1
    assert status["orders_placed"] == 1
    assert status["owner"] == container.config.replica_id
    await client.post(f"/api/v1/strategies/{strategy_id}/stop", headers=trader.headers)


async def test_strategy_orders_are_risk_checked_like_anyone_elses(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    strategy_id = await _start_strategy(client, trader)
    assert (await client.post("/api/v1/admin/halt", headers=admin.headers)).status_code == 200
    await _feed(container)
    orders = (await client.get("/api/v1/orders", headers=trader.headers)).json()["items"]
    assert [(o["strategy_id"], o["status"], o["reject_reason"]) for o in orders] == [
        (strategy_id, "rejected", "trading_halted")
    ]
    await client.post("/api/v1/admin/resume", headers=admin.headers)
    await client.post(f"/api/v1/strategies/{strategy_id}/stop", headers=trader.headers)
