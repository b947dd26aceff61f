"""Order controls: cancel all (filtered), close a position, client order ids."""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.models.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from backend.services.orders.repository.orders import insert_orders
from backend.services.orders.repository.tables import NewOrder
from tests.api.conftest import MakeAccount
from tests.api.contract import assert_error_response
from tests.api.locks import wait_until_blocked
from tests.api.trading import quote, settle

IF = "IF2412.CFFEX"
RB = "rb2501.SHFE"
PRICES = {RB: ("3280", "3320"), IF: ("3480.0", "3520.0")}  # resting buy, resting sell


async def _place(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _resting(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, str],
    *,
    symbol: str = RB,
    side: str = "BUY",
    **extra: object,
) -> dict[str, Any]:
    """A one-lot limit order away from the market (RB 3300 / 3301, IF 3500.0 / 3500.2): it rests."""
    price = PRICES[symbol][0 if side == "BUY" else 1]
    order = await _place(
        client,
        headers,
        symbol=symbol,
        side=side,
        order_type="limit",
        quantity=1,
        price=price,
        **extra,
    )
    await settle(container)
    return order


async def _status(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> str:
    response = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    return str(response.json()["status"])


async def _position(client: httpx.AsyncClient, headers: dict[str, str], symbol: str) -> Decimal:
    positions = (await client.get("/api/v1/positions", headers=headers)).json()
    return sum((Decimal(p["quantity"]) for p in positions if p["symbol"] == symbol), Decimal(0))


async def test_cancel_all_cancels_every_open_order_and_says_which(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    mine = [
        await _resting(client, container, trader.headers),
        await _resting(client, container, trader.headers, side="SELL"),
        await _resting(client, container, trader.headers, symbol=IF),
    ]
    theirs = await _resting(client, container, other.headers)
    response = await client.post("/api/v1/orders/cancel-all", headers=trader.headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert sorted(answer["cancelled"]) == sorted(o["id"] for o in mine)
    assert (answer["count"], answer["still_open"]) == (3, [])
    for order in mine:
        assert await _status(client, trader.headers, order["id"]) == "cancelled"
    assert await _status(client, other.headers, theirs["id"]) == "submitted"
    again = await client.post("/api/v1/orders/cancel-all", json={}, headers=trader.headers)
    assert again.json() == {"cancelled": [], "still_open": [], "count": 0}


async def test_cancel_all_by_symbol_side_or_strategy_leaves_the_rest(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    strategy = await client.post(
        "/api/v1/strategies",
        json={"name": "ma", "class_name": "MovingAverageStrategy", "symbol": RB},
        headers=trader.headers,
    )
    assert strategy.status_code == 201, strategy.text
    rb_buy = await _resting(client, container, trader.headers)
    rb_sell = await _resting(client, container, trader.headers, side="SELL")
    if_buy = await _resting(client, container, trader.headers, symbol=IF)
    by_strategy = await _resting(
        client, container, trader.headers, strategy_id=strategy.json()["id"]
    )
    url = "/api/v1/orders/cancel-all"
    only = await client.post(url, json={"symbol": IF}, headers=trader.headers)
    assert only.json()["cancelled"] == [if_buy["id"]]
    only = await client.post(
        url, json={"strategy_id": strategy.json()["id"]}, headers=trader.headers
    )
    assert only.json()["cancelled"] == [by_strategy["id"]]
    only = await client.post(url, json={"symbol": RB, "side": "SELL"}, headers=trader.headers)
    assert only.json()["cancelled"] == [rb_sell["id"]]
    assert await _status(client, trader.headers, rb_buy["id"]) == "submitted"


async def test_cancel_all_refuses_unknown_filters_and_viewers(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    url = "/api/v1/orders/cancel-all"
    bad = await client.post(url, json={"venue": "x"}, headers=trader.headers)
    assert_error_response(bad, 422, "validation_error")
    bad = await client.post(url, json={"side": "HOLD"}, headers=trader.headers)
    assert_error_response(bad, 422, "validation_error")


async def test_close_a_long_position_sells_what_is_held(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await _place(client, trader.headers, symbol=RB, side="BUY", order_type="market", quantity=3)
    await settle(container)
    assert await _position(client, trader.headers, RB) == 3
    partial = await client.post(
        f"/api/v1/positions/{RB}/close", json={"quantity": 1}, headers=trader.headers
    )
    assert partial.status_code == 201, partial.text
    assert (partial.json()["side"], partial.json()["order_type"]) == ("SELL", "market")
    assert Decimal(partial.json()["quantity"]) == 1
    await settle(container)
    assert await _position(client, trader.headers, RB) == 2
    closed = await client.post(f"/api/v1/positions/{RB}/close", headers=trader.headers)
    assert closed.status_code == 201, closed.text
    assert Decimal(closed.json()["quantity"]) == 2
    await settle(container)
    assert await _status(client, trader.headers, closed.json()["id"]) == "filled"
    assert await _position(client, trader.headers, RB) == 0
    flat = await client.post(f"/api/v1/positions/{RB}/close", headers=trader.headers)
    assert_error_response(flat, 409, "no_position")


async def test_close_a_short_position_buys_it_back(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await _place(client, trader.headers, symbol=RB, side="SELL", order_type="market", quantity=2)
    await settle(container)
    assert await _position(client, trader.headers, RB) == -2
    closed = await client.post(f"/api/v1/positions/{RB}/close", json={}, headers=trader.headers)
    assert closed.status_code == 201, closed.text
    assert (closed.json()["side"], Decimal(closed.json()["quantity"])) == ("BUY", 2)
    await settle(container)
    assert await _position(client, trader.headers, RB) == 0


async def test_a_retried_close_with_an_idempotency_key_replays_and_closes_once(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """A bot's close retried after its answer was lost: the same key and body replay the
    first order (not a second close, not `no_position` although the position is now flat);
    another body with the key is 422; a key used to place an order is another key here."""
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await _place(client, trader.headers, symbol=RB, side="BUY", order_type="market", quantity=2)
    await settle(container)
    headers = {**trader.headers, "Idempotency-Key": "close-rb-1"}
    url = f"/api/v1/positions/{RB}/close"
    first = await client.post(url, json={"quantity": 1}, headers=headers)
    assert first.status_code == 201, first.text
    await settle(container)
    assert await _position(client, trader.headers, RB) == 1
    again = await client.post(url, json={"quantity": 1}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    await settle(container)
    assert await _position(client, trader.headers, RB) == 1
    other_body = await client.post(url, json={"quantity": 2}, headers=headers)
    assert_error_response(other_body, 422, "idempotency_key_reused")
    rest = await client.post(url, headers={**trader.headers, "Idempotency-Key": "close-rb-2"})
    assert rest.status_code == 201, rest.text
    await settle(container)
    assert await _position(client, trader.headers, RB) == 0
    replayed = await client.post(url, headers={**trader.headers, "Idempotency-Key": "close-rb-2"})
    assert (replayed.status_code, replayed.json()["id"]) == (201, rest.json()["id"])
    orders = (await client.get("/api/v1/orders", headers=trader.headers)).json()["items"]
    assert len(orders) == 3  # the opening order and two closes


async def test_close_refuses_what_cannot_be_closed(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    nothing = await client.post(f"/api/v1/positions/{RB}/close", headers=trader.headers)
    assert_error_response(nothing, 409, "no_position")
    unlisted = await client.post("/api/v1/positions/XX9999.SHFE/close", headers=trader.headers)
    assert_error_response(unlisted, 404, "symbol_not_found")
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await _place(client, trader.headers, symbol=RB, side="BUY", order_type="market", quantity=1)
    await settle(container)
    too_much = await client.post(
        f"/api/v1/positions/{RB}/close", json={"quantity": 2}, headers=trader.headers
    )
    assert_error_response(too_much, 422, "validation_error")
    assert await _position(client, trader.headers, RB) == 1


async def test_a_client_order_id_reads_and_cancels_the_order(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    placed = await _resting(client, container, trader.headers, client_order_id="grid-7")
    assert placed["client_order_id"] == "grid-7"
    read = await client.get("/api/v1/orders/by-client-id/grid-7", headers=trader.headers)
    assert (read.status_code, read.json()["id"]) == (200, placed["id"])
    assert read.json()["client_order_id"] == "grid-7"
    listed = (await client.get("/api/v1/orders", headers=trader.headers)).json()["items"]
    assert [o["client_order_id"] for o in listed] == ["grid-7"]
    # Another user may use the same id; neither sees the other's order through it.
    hidden = await client.get("/api/v1/orders/by-client-id/grid-7", headers=other.headers)
    assert_error_response(hidden, 404, "order_not_found")
    theirs = await _resting(client, container, other.headers, client_order_id="grid-7")
    assert theirs["id"] != placed["id"]
    cancel = await client.post("/api/v1/orders/by-client-id/grid-7/cancel", headers=trader.headers)
    assert (cancel.status_code, cancel.json()["status"]) == (200, "cancelled")
    assert await _status(client, other.headers, theirs["id"]) == "submitted"


async def test_a_duplicate_client_order_id_is_409_and_stores_nothing(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    await _resting(client, container, trader.headers, client_order_id="once")
    body = {"symbol": RB, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3281"}
    again = await client.post(
        "/api/v1/orders", json={**body, "client_order_id": "once"}, headers=trader.headers
    )
    assert_error_response(again, 409, "duplicate_client_order_id")
    listed = (await client.get("/api/v1/orders", headers=trader.headers)).json()
    assert listed["total"] == 1
    bad = await client.post(
        "/api/v1/orders", json={**body, "client_order_id": "has space"}, headers=trader.headers
    )
    assert_error_response(bad, 422, "validation_error")
    unnamed = await _place(client, trader.headers, **body)
    assert len(unnamed["client_order_id"]) == 32  # RedFire's own when the client chose none
    by_own = await client.get(
        f"/api/v1/orders/by-client-id/{unnamed['client_order_id']}", headers=trader.headers
    )
    assert by_own.json()["id"] == unnamed["id"]


async def test_a_client_order_id_another_replica_books_meanwhile_is_409_not_500(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Another replica books the same client order id between this one's check and its
    insert: the insert waits for it, loses the unique key and the batch is booked again,
    that order answered 409 as any duplicate is."""
    if container.config.database.is_sqlite:
        pytest.skip("replicas share PostgreSQL; the embedded default is one process")
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    other_replica = NewOrder(
        user_id=trader.id, symbol=RB, side=OrderSide.BUY, order_type=OrderType.LIMIT,
        quantity=Decimal(1), price=Decimal(3281), limit_price=None,
        time_in_force=TimeInForce.GTC, status=OrderStatus.PENDING, reject_reason=None,
        reject_detail=None, client_order_id=secrets.token_hex(16), client_ref="race",
        strategy_id=None, hold_price=None, key=None,
    )  # fmt: skip
    body = {"symbol": RB, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3281",
            "client_order_id": "race"}  # fmt: skip

    async with container.database.session() as session:
        await insert_orders(
            session, [other_replica], gateway="PAPER", replica="other", now=utcnow()
        )
        post = client.post("/api/v1/orders", json=body, headers=trader.headers)
        placing = asyncio.create_task(post)
        await wait_until_blocked(container.database)
    assert_error_response(await placing, 409, "duplicate_client_order_id")
    listed = (await client.get("/api/v1/orders", headers=trader.headers)).json()["items"]
    assert [order["client_order_id"] for order in listed] == ["race"]
