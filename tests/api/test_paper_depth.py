"""The PAPER market's depth over HTTP: injected levels, a market order walking them, the
unfilled rest of a market order cancelled, a marketable limit resting what it cannot take."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.trading import settle

RB = "rb2501.SHFE"  # 10 lots of IF would be more than a test account can pay
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


async def _deep_tick(client: httpx.AsyncClient, make_account: MakeAccount) -> dict[str, Any]:
    admin = await make_account(role=UserRole.ADMIN)
    response = await client.post("/api/v1/market/ticks", json=DEEP_TICK, headers=admin.headers)
    assert response.status_code == 202, response.text
    [injected] = response.json()
    return dict(injected)


async def _order(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json={"symbol": RB, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _read(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> Any:
    return (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()


async def _trades(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> list[Any]:
    items = (await client.get("/api/v1/trades", headers=headers)).json()["items"]
    mine = [t for t in items if t["order_id"] == order_id]
    return sorted((Decimal(t["price"]), Decimal(t["quantity"])) for t in mine)


async def test_a_market_buy_walks_the_injected_levels(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    injected = await _deep_tick(client, make_account)
    assert (injected["ask_price_3"], injected["ask_volume_3"]) == ("3303", "5")
    assert (injected["ask_price_4"], injected["bid_price_3"]) == ("0", "0")
    trader = await make_account()
    placed = await _order(client, trader.headers, side="BUY", order_type="market", quantity="10")
    await settle(container)

    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["filled_quantity"]) == ("filled", "10.00000000")
    assert order["avg_fill_price"] == "3302.00000000"  # (3*3301 + 4*3302 + 3*3303) / 10
    assert await _trades(client, trader.headers, placed["id"]) == [
        (Decimal(3301), Decimal(3)),
        (Decimal(3302), Decimal(4)),
        (Decimal(3303), Decimal(3)),
    ]
    latest = (await client.get(f"/api/v1/market/ticks/{RB}", headers=trader.headers)).json()
    assert latest == injected  # what the market shows: the depth, not what orders took


async def test_a_market_order_beyond_the_depth_is_partially_filled_then_cancelled(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    await _deep_tick(client, make_account)
    trader = await make_account()
    placed = await _order(client, trader.headers, side="BUY", order_type="market", quantity="20")
    await settle(container)

    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["filled_quantity"]) == ("cancelled", "12.00000000")
    assert len(await _trades(client, trader.headers, placed["id"])) == 3
    opened = (await client.get("/api/v1/orders?status=submitted", headers=trader.headers)).json()
    partial = await client.get("/api/v1/orders?status=partially_filled", headers=trader.headers)
    assert opened["total"] == partial.json()["total"] == 0
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 12


async def test_a_marketable_limit_takes_what_crosses_and_rests_the_rest(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    await _deep_tick(client, make_account)
    trader = await make_account()
    placed = await _order(
        client, trader.headers, side="BUY", order_type="limit", quantity="10", price="3302"
    )
    await settle(container)

    order = await _read(client, trader.headers, placed["id"])
    assert (order["status"], order["filled_quantity"]) == ("partially_filled", "7.00000000")
    assert await _trades(client, trader.headers, placed["id"]) == [
        (Decimal(3301), Decimal(3)),
        (Decimal(3302), Decimal(4)),
    ]
    [resting] = container.trading.market.list_open_orders()  # the rest of 3, in the book
    assert (resting.symbol, resting.traded, resting.quantity) == (RB, Decimal(7), Decimal(10))
