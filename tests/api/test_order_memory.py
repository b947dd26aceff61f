"""Finished orders do not pile up in vnpy's OmsEngine or PAPER once RedFire has recorded them."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select
from vnpy.trader.engine import MainEngine

from backend.app.container import AppContainer
from backend.models.order import Order, Trade
from tests.api.conftest import MakeAccount
from tests.api.trading import settle

IF = "IF2412.CFFEX"
ORDERS = 40


def _vnpy(container: AppContainer) -> MainEngine:
    main_engine = container.trading.market._main_engine
    assert main_engine is not None
    return main_engine


async def _gateway_ids(
    container: AppContainer, order_ids: list[int]
) -> tuple[dict[int, str], set[str]]:
    async with container.database.session() as session:
        orders = await session.execute(
            select(Order.id, Order.vt_orderid).where(Order.id.in_(order_ids))
        )
        vt_orderids: dict[int, str] = dict(orders.all())
        trades = await session.scalars(
            select(Trade.vt_tradeid).where(Trade.order_id.in_(order_ids))
        )
        return vt_orderids, set(trades.all())


async def test_filled_and_cancelled_orders_are_forgotten_open_ones_kept(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    market = container.trading.market
    paper = market.paper_gateway(IF)
    # Deep enough for every market order below: each takes one lot of the tick's depth.
    paper.inject_tick(
        IF, last_price=Decimal("3500.0"), bid_volume=Decimal(ORDERS), ask_volume=Decimal(ORDERS)
    )
    await settle(container)
    cached_before = len(_vnpy(container).get_all_orders())
    filled = []
    for number in range(ORDERS):
        side = "BUY" if number % 2 == 0 else "SELL"
        body = {"symbol": IF, "side": side, "order_type": "market", "quantity": 1}
        response = await client.post("/api/v1/orders", json=body, headers=trader.headers)
        assert response.status_code == 201, response.text
        filled.append(response.json()["id"])
        # Booked before the next order: an unbooked buy still holds its buying power, and a
        # slow machine could otherwise let several pile up past the account's balance.
        await settle(container)
    resting_body = {
        "symbol": IF,
        "side": "BUY",
        "order_type": "limit",
        "quantity": 1,
        "price": "3400.0",
    }
    placed = await client.post("/api/v1/orders", json=resting_body, headers=trader.headers)
    resting = placed.json()["id"]
    await settle(container)

    for order_id in filled:
        order = await client.get(f"/api/v1/orders/{order_id}", headers=trader.headers)
        assert order.json()["status"] == "filled", order.json()
    vt_orderids, vt_tradeids = await _gateway_ids(container, [*filled, resting])
    assert len(vt_tradeids) == ORDERS
    vnpy = _vnpy(container)
    cached_orders = {order.vt_orderid for order in vnpy.get_all_orders()}
    cached_trades = {trade.vt_tradeid for trade in vnpy.get_all_trades()}
    # Every filled order and its trade is gone from vnpy's OmsEngine and from PAPER...
    for order_id in filled:
        assert vt_orderids[order_id] not in cached_orders
        assert market.get_order(vt_orderids[order_id]) is None
    assert not vt_tradeids & cached_trades
    assert all(paper.commission_for(vt_tradeid) is None for vt_tradeid in vt_tradeids)
    assert not [order for order in vnpy.get_all_orders() if not order.is_active()]
    # ...so the caches did not grow with the orders; only the open one is held.
    assert len(vnpy.get_all_orders()) <= cached_before + 1
    resting_vt = vt_orderids[resting]
    assert resting_vt in cached_orders
    assert resting_vt in {order.vt_orderid for order in market.list_open_orders()}

    # The open order can still be cancelled, and is forgotten once that is recorded.
    cancel = await client.post(f"/api/v1/orders/{resting}/cancel", headers=trader.headers)
    assert cancel.status_code == 200
    await settle(container)
    order = await client.get(f"/api/v1/orders/{resting}", headers=trader.headers)
    assert order.json()["status"] == "cancelled"
    assert market.get_order(resting_vt) is None
    assert resting_vt not in {order.vt_orderid for order in _vnpy(container).get_all_orders()}
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    assert Decimal(position["quantity"]) == 0
