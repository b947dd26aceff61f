"""Orders over HTTP on the PAPER gateway: placement, fills, validation, ownership, cancel."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update

from backend.app.container import AppContainer
from backend.core.messaging import MemoryMessaging, Messaging, RedisMessaging
from backend.core.monitoring.metrics import CANCELS_RELAYED
from backend.models.enums import OrderSide, OrderStatus, OrderType, UserRole
from backend.models.order import Order, Trade
from backend.schemas.orders import OrderRead
from backend.services.orders.finality import CHANNEL as FINAL_CHANNEL
from backend.services.orders.finality import OrderFinality
from backend.services.orders.service import OWNED_ORDER
from tests.api.conftest import MakeAccount
from tests.api.trading import quote, resting_buy, settle

IF = "IF2412.CFFEX"
BTC = "BTCUSDT.GLOBAL"


async def _rows(container: AppContainer, model: type[Order] | type[Trade]) -> int:
    async with container.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_market_buy_fills_at_the_ask_with_commission(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    response = await client.post(
        "/api/v1/orders",
        json={"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 2},
        headers=trader.headers,
    )
    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["status"] in ("submitted", "filled")
    assert placed["user_id"] == trader.id
    assert placed["price"] is None
    await settle(container)
    order = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert order["status"] == "filled"
    assert Decimal(order["filled_quantity"]) == 2
    assert Decimal(order["avg_fill_price"]) == Decimal("3500.2")
    trades = (await client.get("/api/v1/trades", headers=trader.headers)).json()
    assert trades["total"] == 1
    [trade] = trades["items"]
    assert (trade["order_id"], trade["side"]) == (placed["id"], "BUY")
    assert Decimal(trade["price"]) == Decimal("3500.2")
    # 3500.2 * 2 * 300 * 0.0001
    assert Decimal(trade["commission"]) == Decimal("210.012")


async def test_fills_positions_and_account_add_up(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    buy = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "2"}
    assert (await client.post("/api/v1/orders", json=buy, headers=trader.headers)).is_success
    await settle(container)
    await quote(container, IF, last="3510.0", bid="3510.0", ask="3510.2")
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert position["symbol"] == IF
    assert Decimal(position["quantity"]) == 2
    assert Decimal(position["avg_price"]) == Decimal("3500.2")
    assert Decimal(position["realized_pnl"]) == 0
    # (3510.0 - 3500.2) * 2 * 300
    assert Decimal(position["unrealized_pnl"]) == Decimal(5880)

    sell = {"symbol": IF, "side": "SELL", "order_type": "market", "quantity": "3"}
    assert (await client.post("/api/v1/orders", json=sell, headers=trader.headers)).is_success
    await settle(container)
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    # closes 2 at 3510.0 (bid): (3510.0 - 3500.2) * 2 * 300 = 5880; opens 1 short at 3510.0
    assert Decimal(position["quantity"]) == -1
    assert Decimal(position["avg_price"]) == Decimal("3510.0")
    assert Decimal(position["realized_pnl"]) == Decimal("5880")
    # marked at last 3510.0: (3510.0 - 3510.0) * -1 * 300 = 0
    assert Decimal(position["unrealized_pnl"]) == 0

    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    # commissions: 3500.2*2*300*0.0001 = 210.012 and 3510.0*3*300*0.0001 = 315.9
    expected_balance = Decimal(10_000_000) + Decimal(5880) - Decimal("210.012") - Decimal("315.9")
    assert account["currency"] == "CNY"
    assert Decimal(account["balance"]) == expected_balance
    assert Decimal(account["realized_pnl"]) == Decimal(5880)
    assert Decimal(account["frozen"]) == 0
    # The short lot holds its notional at the last price: 1 * 3510.0 * 300
    assert Decimal(account["margin"]) == Decimal(1_053_000)
    assert Decimal(account["available"]) == expected_balance - Decimal(1_053_000)


async def test_resting_limit_freezes_cash_then_fills_when_crossed(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers, price="3499.0")
    assert (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()[
        "status"
    ] == "submitted"
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert Decimal(account["frozen"]) == Decimal("3499.0") * 300
    await quote(container, IF, last="3498.8", bid="3498.6", ask="3498.8")
    order = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert order["status"] == "filled"
    assert Decimal(order["avg_fill_price"]) == Decimal("3498.8")
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert Decimal(account["frozen"]) == 0


async def test_stop_order_triggers_into_market(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    stop = {"symbol": IF, "side": "SELL", "order_type": "stop", "quantity": 1, "price": "3495.0"}
    placed = (await client.post("/api/v1/orders", json=stop, headers=trader.headers)).json()
    await settle(container)
    await quote(container, IF, last="3497.0", bid="3496.8", ask="3497.0")
    mid = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert mid["status"] == "submitted"
    await quote(container, IF, last="3494.0", bid="3494.0", ask="3494.2")
    done = (await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)).json()
    assert done["status"] == "filled"
    assert Decimal(done["avg_fill_price"]) == Decimal("3494.0")


async def test_orders_are_private_to_their_owner(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    limit = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3400"}
    placed = (await client.post("/api/v1/orders", json=limit, headers=alice.headers)).json()
    assert (
        await client.get(f"/api/v1/orders/{placed['id']}", headers=bob.headers)
    ).status_code == 404
    cancel = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=bob.headers)
    assert cancel.status_code == 404
    assert cancel.json()["error"] == "order_not_found"
    assert (await client.get("/api/v1/orders", headers=bob.headers)).json()["total"] == 0
    assert (await client.get("/api/v1/orders", headers=alice.headers)).json()["total"] == 1


async def test_viewer_reads_but_cannot_trade(
    client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    viewer = await make_account(role=UserRole.VIEWER)
    body = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
    response = await client.post("/api/v1/orders", json=body, headers=viewer.headers)
    assert response.status_code == 403
    assert response.json()["error"] == "read_only"
    assert (await client.get("/api/v1/orders", headers=viewer.headers)).status_code == 200
    assert (await client.get("/api/v1/account", headers=viewer.headers)).status_code == 200


async def test_cancel_a_resting_order_then_it_is_final(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers)
    cancelled = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert again.status_code == 409
    assert again.json()["error"] == "order_not_cancellable"
    # A later crossing tick does not fill a cancelled order.
    await quote(container, IF, last="3399.0", bid="3398.8", ask="3399.0")
    assert await _rows(container, Trade) == 0


async def test_cancel_of_an_order_whose_replica_does_not_answer_leaves_it_open(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Only the replica that routed an order can cancel it; here it is not listening."""
    trader = await make_account()
    placed = await resting_buy(client, container, trader.headers)
    async with container.database.session() as session:
        await session.execute(
            update(Order).where(Order.id == placed["id"]).values(replica="replica-gone")
        )
    before = CANCELS_RELAYED.labels(outcome="unheard")._value.get()
    answer = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == "submitted"  # the contract's "still open"
    assert CANCELS_RELAYED.labels(outcome="unheard")._value.get() == before + 1
    # Nothing here asked the gateway: the order still rests and a crossing tick fills it.
    await quote(container, IF, last="3399.0", bid="3398.8", ask="3399.0")
    order = await client.get(f"/api/v1/orders/{placed['id']}", headers=trader.headers)
    assert order.json()["status"] == "filled"


def _another_replica(messaging: Messaging) -> Messaging:
    """A second endpoint on the app's broker, as another replica has."""
    if isinstance(messaging, RedisMessaging):
        return RedisMessaging(messaging.cache)
    assert isinstance(messaging, MemoryMessaging)
    return MemoryMessaging(messaging.broker)


def _order(order_id: int, status: OrderStatus) -> OrderRead:
    moment = datetime.now(UTC)
    return OrderRead(
        id=order_id,
        user_id=1,
        symbol=IF,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(1),
        price=Decimal("3400"),
        status=status,
        filled_quantity=Decimal(0),
        avg_fill_price=None,
        reject_reason=None,
        client_order_id="relayed",
        gateway="PAPER",
        strategy_id=None,
        created_at=moment,
        updated_at=moment,
    )


async def test_a_final_order_on_any_replica_wakes_a_waiting_cancel(
    container: AppContainer,
) -> None:
    """A relayed cancel's outcome arrives as the owner's announcement on the finality channel."""
    events = container.trading.events
    await asyncio.wait_for(container.trading.finality.listening.wait(), 5)
    peer = _another_replica(container.messaging)
    owner = OrderFinality(peer, events)
    waiter, later = events.wait_for_final(4242), events.wait_for_final(4243)
    try:
        await peer.publish(FINAL_CHANNEL, "not a list of ids")  # logged, dropped
        await owner.on_order(_order(4242, OrderStatus.SUBMITTED))  # not final: not announced
        await owner.on_order(_order(4243, OrderStatus.CANCELLED))
        await asyncio.wait_for(later, 5)  # what 4242 would have sent came before it
        assert not waiter.done()
        await owner.on_order(_order(4242, OrderStatus.CANCELLED))
        await asyncio.wait_for(waiter, 5)
    finally:
        await owner.stop()


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "viewer"}])
async def test_a_user_who_may_no_longer_trade_has_their_open_orders_cancelled(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    change: dict[str, object],
) -> None:
    """Neither a deactivated user (no token works) nor a viewer could cancel them any more."""
    trader, admin = await make_account(), await make_account(role=UserRole.ADMIN)
    resting = [await resting_buy(client, container, trader.headers) for _ in range(2)]
    answer = await client.patch(f"/api/v1/users/{trader.id}", json=change, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    await settle(container)
    async with container.database.session() as session:
        statuses = await session.scalars(
            select(Order.status).where(Order.id.in_([order["id"] for order in resting]))
        )
        assert [status.value for status in statuses] == ["cancelled", "cancelled"]
    # Nothing left to fill: a crossing tick books no trade.
    await quote(container, IF, last="3399.0", bid="3398.8", ask="3399.0")
    assert await _rows(container, Trade) == 0


async def test_filled_order_is_not_cancellable(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    body = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
    placed = (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()
    await settle(container)
    response = await client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=trader.headers)
    assert response.status_code == 409
    assert response.json()["detail"] == f"order {placed['id']} is filled"


async def test_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    ids = []
    for side in ("BUY", "SELL", "BUY"):
        body = {
            "symbol": IF,
            "side": side,
            "order_type": "limit",
            "quantity": 1,
            "price": "3400" if side == "BUY" else "3600",
        }
        ids.append(
            (await client.post("/api/v1/orders", json=body, headers=trader.headers)).json()["id"]
        )
    page = (await client.get("/api/v1/orders?limit=2", headers=trader.headers)).json()
    assert [o["id"] for o in page["items"]] == [ids[2], ids[1]]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    buys = (await client.get("/api/v1/orders?side=BUY", headers=trader.headers)).json()
    assert [o["id"] for o in buys["items"]] == [ids[2], ids[0]]
    await client.post(f"/api/v1/orders/{ids[0]}/cancel", headers=trader.headers)
    open_ = "/api/v1/orders?status=pending&status=submitted&status=partially_filled"
    still_open = (await client.get(open_, headers=trader.headers)).json()
    assert [o["id"] for o in still_open["items"]] == [ids[2], ids[1]]
    done = (await client.get("/api/v1/orders?status=cancelled", headers=trader.headers)).json()
    assert [o["id"] for o in done["items"]] == [ids[0]]
    bad = await client.get("/api/v1/orders?limit=501", headers=trader.headers)
    assert bad.status_code == 422


async def test_the_driver_read_of_an_order_matches_the_core_read(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """GET /orders/{id} reads with asyncpg directly on PostgreSQL; Core's row must agree."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    body = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": "2", "price": "3400.2"}
    placed = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert placed.status_code == 201, placed.text
    await settle(container)
    parameters = {"order_id": placed.json()["id"], "user_id": trader.id}
    database = container.database
    driver_row = await OWNED_ORDER.first(database, parameters)
    async with database.read_connection() as connection:
        core_row = (await connection.execute(OWNED_ORDER.statement, parameters)).mappings().one()
    assert driver_row is not None
    from_driver = OrderRead.model_validate(driver_row)
    assert from_driver == OrderRead.model_validate(dict(core_row))
    assert from_driver.price == Decimal("3400.2")
    assert from_driver.created_at.utcoffset() is not None
    shown = await client.get(f"/api/v1/orders/{parameters['order_id']}", headers=trader.headers)
    assert shown.json() == from_driver.model_dump(mode="json")
    assert await OWNED_ORDER.first(database, {**parameters, "user_id": trader.id + 1}) is None


async def test_decimals_are_written_without_an_exponent(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """A new order's zero fill is "0.00000000", not "0E-8", in every answer that shows it."""
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    limit = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3499.0"}
    headers = {**trader.headers, "Idempotency-Key": "plain-decimals"}
    placed = await client.post("/api/v1/orders", json=limit, headers=headers)
    replayed = await client.post("/api/v1/orders", json=limit, headers=headers)
    await settle(container)
    read = await client.get(f"/api/v1/orders/{placed.json()['id']}", headers=trader.headers)
    for body in (placed.json(), replayed.json(), read.json()):
        assert body["filled_quantity"] == "0.00000000"
        assert body["quantity"] == "1.00000000"
        assert body["price"] == "3499.00000000"


async def test_account_and_positions_show_every_amount_at_eight_places(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    """Computed amounts read like stored ones, and the account adds up exactly as shown."""
    trader = await make_account()
    fresh = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert (fresh["balance"], fresh["frozen"], fresh["margin"]) == (
        "10000000.00000000",
        "0.00000000",
        "0.00000000",
    )
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    buy = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": "1"}
    assert (await client.post("/api/v1/orders", json=buy, headers=trader.headers)).is_success
    rest = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 1, "price": "3499.0"}
    assert (await client.post("/api/v1/orders", json=rest, headers=trader.headers)).is_success
    await settle(container)
    await quote(container, IF, last="3499.6", bid="3499.4", ask="3499.6")

    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    eight_places = re.compile(r"^-?\d+\.\d{8}$")
    amounts = {name: value for name, value in account.items() if name != "currency"}
    assert all(eight_places.match(value) for value in amounts.values()), amounts
    shown = [value for name, value in position.items() if name != "symbol"]
    assert all(eight_places.match(value) for value in shown), position
    # (3499.6 - 3500.2) * 1 * 300 and 3499.0 * 1 * 300 held for the resting order
    assert position["unrealized_pnl"] == account["unrealized_pnl"] == "-180.00000000"
    assert account["frozen"] == "1049700.00000000"
    assert account["margin"] == "1049880.00000000"  # 1 * 3499.6 * 300, the long lot
    balance, unrealized, margin, frozen = (
        Decimal(account[name]) for name in ("balance", "unrealized_pnl", "margin", "frozen")
    )
    assert Decimal(account["available"]) == balance + unrealized - margin - frozen
