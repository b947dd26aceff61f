"""Amounts are kept at their stored 8 places from the moment they are computed.

A position's average price is a division: kept unrounded in memory while a batch goes on, the
same fills would book differently together than one by one, and the stream would show more
digits than any read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backend.app.container import AppContainer
from backend.domain.market import TradeFill
from backend.models.enums import OrderSide
from backend.models.order import Order
from backend.schemas.orders import OrderRead, TradeRead
from tests.api.conftest import Account, MakeAccount
from tests.api.trading import quote, settle

IF = "IF2412.CFFEX"
# Three buys, then a sell that closes one lot against the average of 10500.4 / 3.
FILLS = [
    (OrderSide.BUY, "3500.0"),
    (OrderSide.BUY, "3500.2"),
    (OrderSide.BUY, "3500.2"),
    (OrderSide.SELL, "3501.0"),
]


async def _resting(client: httpx.AsyncClient, trader: Account, side: str, price: str) -> int:
    body = {"symbol": IF, "side": side, "order_type": "limit", "quantity": 3, "price": price}
    placed = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert placed.status_code == 201, placed.text
    return int(placed.json()["id"])


async def _vt_orderid(container: AppContainer, order_id: int) -> str:
    async with container.database.session() as session:
        vt_orderid = await session.scalar(select(Order.vt_orderid).where(Order.id == order_id))
    assert vt_orderid is not None
    return vt_orderid


async def _book_fills(
    client: httpx.AsyncClient, container: AppContainer, trader: Account, *, together: bool
) -> dict[str, Any]:
    orders = {
        OrderSide.BUY: await _resting(client, trader, "BUY", "3400.0"),
        OrderSide.SELL: await _resting(client, trader, "SELL", "3800.0"),
    }
    await settle(container)
    vt_orderids = {side: await _vt_orderid(container, order) for side, order in orders.items()}
    # No await that suspends between the fills: together, they are queued as one batch.
    for number, (side, price) in enumerate(FILLS, start=1):
        vt_orderid = vt_orderids[side]
        fill = TradeFill(
            vt_tradeid=f"{vt_orderid}-fill-{number}",
            vt_orderid=vt_orderid,
            symbol=IF,
            gateway="PAPER",
            side=side,
            price=Decimal(price),
            quantity=Decimal(1),
            commission=Decimal("0.0000000049"),  # below the stored scale: rounds to 0
            trade_time=datetime.now(UTC),
        )
        await container.trading.events.on_event(fill)
        if not together:
            await settle(container)
    await settle(container)
    headers = trader.headers
    [position] = (await client.get("/api/v1/positions", headers=headers)).json()
    buy = (await client.get(f"/api/v1/orders/{orders[OrderSide.BUY]}", headers=headers)).json()
    account = (await client.get("/api/v1/account", headers=headers)).json()
    return {
        "position": {k: v for k, v in position.items() if k != "unrealized_pnl"},
        "avg_fill_price": buy["avg_fill_price"],
        "realized_pnl": account["realized_pnl"],
        "balance": account["balance"],
    }


@pytest.mark.parametrize("together", [True, False], ids=["one batch", "one by one"])
async def test_the_same_fills_book_the_same_together_or_one_by_one(
    client: httpx.AsyncClient,
    container: AppContainer,
    make_account: MakeAccount,
    together: bool,
) -> None:
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    books = await _book_fills(client, container, await make_account(), together=together)
    # avg 10500.4 / 3 = 3500.13333333 (shown); closing 1 at 3501.0 against the cost basis:
    # (3501.0 - 10500.4 / 3) * 300 = 260 exactly (the rounded average gave 260.00000100)
    assert books == {
        "position": {
            "symbol": IF,
            "quantity": "2.00000000",
            "avg_price": "3500.13333333",
            "realized_pnl": "260.00000000",
        },
        "avg_fill_price": "3500.13333333",
        "realized_pnl": "260.00000000",
        "balance": "10000260.00000000",
    }


async def test_listeners_see_orders_and_trades_as_a_read_shows_them(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    heard: list[tuple[TradeRead, OrderRead]] = []

    async def listen(trade: TradeRead, order: OrderRead) -> None:
        heard.append((trade, order))

    events = container.trading.events
    events.add_trade_listener(listen)
    try:
        await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
        trader = await make_account()
        await _book_fills(client, container, trader, together=True)
    finally:
        events.remove_trade_listener(listen)
    trades = (await client.get("/api/v1/trades", headers=trader.headers)).json()["items"]
    assert sorted(trade.model_dump(mode="json")["id"] for trade, _ in heard) == sorted(
        trade["id"] for trade in trades
    )
    read = {trade["id"]: trade for trade in trades}
    for trade, order in heard:
        assert trade.model_dump(mode="json") == read[trade.id]
        # One batch: each order is heard as the batch left it, which is how it is stored.
        stored = await client.get(f"/api/v1/orders/{order.id}", headers=trader.headers)
        assert order.model_dump(mode="json") == stored.json()
    assert {order.avg_fill_price for _, order in heard} == {Decimal("3500.13333333"), Decimal(3501)}
