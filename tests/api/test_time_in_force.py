"""Time in force on the PAPER market's depth: IOC takes what it can and cancels the rest, FOK
fills whole or not at all, GTC rests; combinations no gateway type carries are 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response
from tests.api.trading import settle

RB = "rb2501.SHFE"
# Asks: 3 at 3301, 4 at 3302, 5 at 3303; bids: 2 at 3300, 6 at 3299.
DEEP_TICK = {
    "symbol": RB,
    "last_price": "3300",
    "bid_volume_1": "2",
    "ask_volume_1": "3",
    "bid_price_2": "3299",
    "bid_volume_2": "6",
    "ask_price_2": "3302",
    "ask_volume_2": "4",
    "ask_price_3": "3303",
    "ask_volume_3": "5",
}


@pytest.fixture
async def trader(client: httpx.AsyncClient, make_account: MakeAccount) -> dict[str, str]:
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.post("/api/v1/market/ticks", json=DEEP_TICK, headers=admin.headers)
    assert response.status_code == 202, response.text
    return (await make_account()).headers


async def _placed(
    client: httpx.AsyncClient, container: AppContainer, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json={"symbol": RB, **body}, headers=headers)
    assert response.status_code == 201, response.text
    await settle(container)
    order = await client.get(f"/api/v1/orders/{response.json()['id']}", headers=headers)
    return dict(order.json())


async def _filled(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> Decimal:
    trades = (await client.get(f"/api/v1/trades?order_id={order_id}", headers=headers)).json()
    return sum((Decimal(t["quantity"]) for t in trades["items"]), Decimal(0))


async def test_ioc_takes_what_crosses_and_cancels_the_rest(
    client: httpx.AsyncClient, container: AppContainer, trader: dict[str, str]
) -> None:
    order = await _placed(
        client, container, trader, side="BUY", order_type="limit", quantity="10", price="3302",
        time_in_force="IOC",
    )  # fmt: skip
    assert (order["status"], order["filled_quantity"]) == ("cancelled", "7.00000000")
    assert order["time_in_force"] == "IOC"
    assert await _filled(client, trader, order["id"]) == 7
    assert container.trading.market.list_open_orders() == []  # nothing rests


async def test_ioc_that_does_not_cross_is_cancelled_at_once(
    client: httpx.AsyncClient, container: AppContainer, trader: dict[str, str]
) -> None:
    order = await _placed(
        client, container, trader, side="BUY", order_type="limit", quantity="1", price="3295",
        time_in_force="IOC",
    )  # fmt: skip
    assert (order["status"], order["filled_quantity"]) == ("cancelled", "0.00000000")
    assert container.trading.market.list_open_orders() == []


async def test_fok_beyond_the_depth_is_cancelled_whole_and_trades_nothing(
    client: httpx.AsyncClient, container: AppContainer, trader: dict[str, str]
) -> None:
    order = await _placed(
        client, container, trader, side="BUY", order_type="limit", quantity="10", price="3302",
        time_in_force="FOK",
    )  # fmt: skip
    assert order["status"] == "cancelled"
    assert Decimal(order["filled_quantity"]) == 0
    assert await _filled(client, trader, order["id"]) == 0
    positions = (await client.get("/api/v1/positions", headers=trader)).json()
    assert positions == []


async def test_fok_the_depth_can_hold_fills_whole(
    client: httpx.AsyncClient, container: AppContainer, trader: dict[str, str]
) -> None:
    order = await _placed(
        client, container, trader, side="SELL", order_type="limit", quantity="8", price="3299",
        time_in_force="FOK",
    )  # fmt: skip
    assert (order["status"], order["filled_quantity"]) == ("filled", "8.00000000")
    assert await _filled(client, trader, order["id"]) == 8


async def test_gtc_is_the_default_and_rests_the_rest(
    client: httpx.AsyncClient, container: AppContainer, trader: dict[str, str]
) -> None:
    order = await _placed(
        client, container, trader, side="BUY", order_type="limit", quantity="10", price="3302"
    )
    assert (order["status"], order["time_in_force"]) == ("partially_filled", "GTC")


@pytest.mark.parametrize(
    ("order_type", "price", "time_in_force"),
    [("market", None, "FOK"), ("stop", "3310", "IOC"), ("stop", "3310", "FOK")],
)
async def test_a_time_in_force_the_order_type_cannot_carry_is_422(
    client: httpx.AsyncClient,
    container: AppContainer,
    trader: dict[str, str],
    order_type: str,
    price: str | None,
    time_in_force: str,
) -> None:
    body = {"symbol": RB, "side": "BUY", "order_type": order_type, "quantity": "1",
            "time_in_force": time_in_force, **({"price": price} if price else {})}  # fmt: skip
    response = await client.post("/api/v1/orders", json=body, headers=trader)
    error = assert_error_response(response, 422)
    assert error["error"] == "validation_error"
    assert error["detail"][0]["loc"] == ["body", "time_in_force"]
    listed = (await client.get("/api/v1/orders", headers=trader)).json()
    assert listed["total"] == 0
    unknown = await client.post(
        "/api/v1/orders", json={**body, "time_in_force": "GTD"}, headers=trader
    )
    assert_error_response(unknown, 422)
