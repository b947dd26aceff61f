"""PATCH /orders/{id}: cancel-replace of an open order, linked, risk-checked, idempotent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response
from tests.api.trading import quote, settle

RB = "rb2501.SHFE"


async def _resting_buy(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, str],
    **extra: object,
) -> dict[str, Any]:
    """A buy of 3 at 3280 under a 3300 / 3301 market: it rests."""
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    body = {"symbol": RB, "side": "BUY", "order_type": "limit", "quantity": 3, "price": "3280"}
    response = await client.post("/api/v1/orders", json={**body, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    await settle(container)
    return dict(response.json())


async def _read(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> Any:
    return (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()


async def test_amend_replaces_the_order_at_the_gateway_and_links_the_two(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    original = await _resting_buy(client, container, trader.headers, client_order_id="ladder-1")
    response = await client.patch(
        f"/api/v1/orders/{original['id']}",
        json={"price": "3290", "quantity": "5"},
        headers=trader.headers,
    )
    assert response.status_code == 200, response.text
    replacement = response.json()
    assert replacement["replaces_order_id"] == original["id"]
    assert replacement["id"] != original["id"]
    assert (replacement["price"], replacement["quantity"]) == ("3290.00000000", "5.00000000")
    assert replacement["client_order_id"] == "ladder-1"  # the client's id moved along
    await settle(container)
    assert (await _read(client, trader.headers, original["id"]))["status"] == "cancelled"
    by_client_id = await client.get("/api/v1/orders/by-client-id/ladder-1", headers=trader.headers)
    assert by_client_id.json()["id"] == replacement["id"]
    [resting] = container.trading.market.list_open_orders()  # the gateway holds the new one
    assert (resting.price, resting.quantity) == (Decimal(3290), Decimal(5))
    # The replacement trades like any order: a tick through 3290 fills it.
    await quote(container, RB, last="3289", bid="3288", ask="3289")
    assert (await _read(client, trader.headers, replacement["id"]))["status"] == "filled"


async def test_amend_of_a_partly_filled_order_replaces_what_is_left_of_the_new_total(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    # Two lots offered at 3301: a buy of 5 at 3301 takes them and rests 3.
    tick = {"symbol": RB, "last_price": "3300", "ask_price_1": "3301", "ask_volume_1": "2"}
    assert (
        await client.post("/api/v1/market/ticks", json=tick, headers=admin.headers)
    ).status_code == 202
    body = {"symbol": RB, "side": "BUY", "order_type": "limit", "quantity": 5, "price": "3301"}
    placed = (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()
    await settle(container)
    assert (await _read(client, trader.headers, placed["id"]))["status"] == "partially_filled"
    amended = await client.patch(
        f"/api/v1/orders/{placed['id']}", json={"quantity": "4"}, headers=trader.headers
    )
    assert amended.status_code == 200, amended.text
    assert Decimal(amended.json()["quantity"]) == 2  # 4 in all, 2 filled already
    too_small = await client.patch(
        f"/api/v1/orders/{amended.json()['id']}", json={"quantity": "0"}, headers=trader.headers
    )
    assert_error_response(too_small, 422, "validation_error")


async def test_amend_is_risk_checked_again(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    original = await _resting_buy(client, container, trader.headers)
    limits = await client.put(
        "/api/v1/admin/risk", json={"max_order_quantity": "4"}, headers=admin.headers
    )
    assert limits.status_code == 200, limits.text
    amended = await client.patch(
        f"/api/v1/orders/{original['id']}", json={"quantity": "5"}, headers=trader.headers
    )
    assert amended.status_code == 200, amended.text
    assert (amended.json()["status"], amended.json()["reject_reason"]) == (
        "rejected",
        "max_order_quantity",
    )


async def test_amend_of_an_order_that_is_not_open_is_409(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    original = await _resting_buy(client, container, trader.headers)
    url = f"/api/v1/orders/{original['id']}"
    hidden = await client.patch(url, json={"price": "3285"}, headers=other.headers)
    assert_error_response(hidden, 404, "order_not_found")
    first = await client.patch(url, json={"price": "3285"}, headers=trader.headers)
    assert first.status_code == 200, first.text
    again = await client.patch(url, json={"price": "3286"}, headers=trader.headers)
    assert_error_response(again, 409, "order_not_amendable")
    await quote(container, RB, last="3284", bid="3283", ask="3284")  # fills the replacement
    filled = await client.patch(
        f"/api/v1/orders/{first.json()['id']}", json={"price": "3270"}, headers=trader.headers
    )
    assert_error_response(filled, 409, "order_not_amendable")
    assert filled.json()["detail"] == f"order {first.json()['id']} is filled"


async def test_amend_refuses_bad_changes_and_leaves_the_order_alone(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    original = await _resting_buy(client, container, trader.headers)
    url = f"/api/v1/orders/{original['id']}"
    for body in ({}, {"price": "3280.5"}, {"side": "SELL"}, {"price": "-1"}, {"quantity": "1.5"}):
        response = await client.patch(url, json=body, headers=trader.headers)
        assert_error_response(response, 422, "validation_error")
    assert (await _read(client, trader.headers, original["id"]))["status"] == "submitted"
    assert len(container.trading.market.list_open_orders()) == 1


async def test_amend_with_an_idempotency_key_replays_its_answer(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    original = await _resting_buy(client, container, trader.headers)
    url = f"/api/v1/orders/{original['id']}"
    headers = {**trader.headers, "Idempotency-Key": "amend-1"}
    first = await client.patch(url, json={"price": "3285"}, headers=headers)
    assert first.status_code == 200, first.text
    await settle(container)
    retry = await client.patch(url, json={"price": "3285"}, headers=headers)
    assert (retry.status_code, retry.json()["id"]) == (200, first.json()["id"])
    other_body = await client.patch(url, json={"price": "3284"}, headers=headers)
    assert_error_response(other_body, 422, "idempotency_key_reused")
    orders = (await client.get("/api/v1/orders", headers=trader.headers)).json()
    assert orders["total"] == 2  # the original and one replacement
    assert len(container.trading.market.list_open_orders()) == 1
