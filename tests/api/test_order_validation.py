"""Order validation: contract rules and malformed bodies are 422 and store nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from backend.app.container import AppContainer
from backend.models.order import Order
from tests.api.conftest import MakeAccount

IF = "IF2412.CFFEX"
BTC = "BTCUSDT.GLOBAL"


async def _orders(container: AppContainer) -> int:
    async with container.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        (
            {"symbol": "NOPE.CFFEX", "side": "BUY", "order_type": "market", "quantity": 1},
            "symbol",
            "unknown_symbol",
        ),
        ({"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1}, "price", "missing"),
        ({"symbol": IF, "side": "BUY", "order_type": "stop", "quantity": 1}, "price", "missing"),
        (
            {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1, "price": 3500},
            "price",
            "extra_price",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3500.1"},
            "price",
            "price_tick",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "1.5"},
            "quantity",
            "volume_step",
        ),
        (
            {"symbol": BTC, "side": "BUY", "order_type": "market", "quantity": "0.0015"},
            "quantity",
            "volume_step",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 0},
            "quantity",
            "greater_than",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": -1},
            "quantity",
            "greater_than",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "-3500"},
            "price",
            "greater_than",
        ),
        (
            {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "0"},
            "price",
            "greater_than",
        ),
    ],
)
async def test_contract_violations_are_422_and_store_nothing(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    body: dict[str, object],
    field: str,
    kind: str,
) -> None:
    trader = await make_account()
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    assert [(e["loc"][-1], e["type"]) for e in payload["detail"]] == [(field, kind)]
    assert await _orders(container) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"symbol": IF, "side": "HOLD", "order_type": "market", "quantity": 1},
        {"symbol": IF, "side": "BUY", "order_type": "iceberg", "quantity": 1},
        {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "NaN"},
        {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "Infinity"},
        {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "1" * 17},
        {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "0.000000001"},
        {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1, "extra": 1},
        {"side": "BUY", "order_type": "market", "quantity": 1},
    ],
)
async def test_malformed_orders_are_422(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    body: dict[str, object],
) -> None:
    trader = await make_account()
    response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert await _orders(container) == 0


async def test_an_order_cannot_name_another_users_strategy(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    body = {
        "name": "ma",
        "class_name": "MovingAverageStrategy",
        "symbol": IF,
        "parameters": {"fast_window": 2, "slow_window": 3, "warmup_ticks": 4, "fixed_size": "1"},
    }
    created = await client.post("/api/v1/strategies", json=body, headers=alice.headers)
    strategy_id = created.json()["id"]
    order = {
        "symbol": IF,
        "side": "BUY",
        "order_type": "market",
        "quantity": 1,
        "strategy_id": strategy_id,
    }
    response = await client.post("/api/v1/orders", json=order, headers=bob.headers)
    assert response.status_code == 422
    assert [error["type"] for error in response.json()["detail"]] == ["unknown_strategy"]
    assert await _orders(container) == 0
    own = await client.post("/api/v1/orders", json=order, headers=alice.headers)
    assert own.status_code == 201
    assert own.json()["strategy_id"] == strategy_id
