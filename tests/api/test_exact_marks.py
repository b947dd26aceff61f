"""A position bought at several prices is marked and closed from its cost basis, exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select

from backend.app.container import AppContainer
from backend.domain.market import TradeFill
from backend.models.enums import OrderSide
from backend.models.order import Order
from tests.api.conftest import Account, MakeAccount
from tests.api.trading import quote, settle

RB = "rb2501.SHFE"  # contract size 10


async def _order(client: httpx.AsyncClient, trader: Account, side: str, quantity: int) -> int:
    price = "3000" if side == "BUY" else "3600"  # rests under / over a 3300 market
    body = {"symbol": RB, "side": side, "order_type": "limit", "quantity": quantity,
            "price": price}  # fmt: skip
    placed = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert placed.status_code == 201, placed.text
    return int(placed.json()["id"])


async def _fill(
    container: AppContainer, order_id: int, side: OrderSide, fills: list[tuple[int, str]]
) -> None:
    await settle(container)
    async with container.database.session() as session:
        vt_orderid = await session.scalar(select(Order.vt_orderid).where(Order.id == order_id))
    assert vt_orderid is not None
    for number, (quantity, price) in enumerate(fills, start=1):
        await container.trading.events.on_event(
            TradeFill(
                vt_tradeid=f"{vt_orderid}-{number}",
                vt_orderid=vt_orderid,
                symbol=RB,
                gateway="PAPER",
                side=side,
                price=Decimal(price),
                quantity=Decimal(quantity),
                commission=Decimal(0),
                trade_time=datetime.now(UTC),
            )
        )
    await settle(container)


async def test_101_lots_bought_at_several_prices_mark_exactly(
    client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, RB, last="3300", bid="3300", ask="3301")
    buy = await _order(client, trader, "BUY", 101)
    await _fill(container, buy, OrderSide.BUY, [(50, "3300"), (50, "3321"), (1, "3358")])
    await quote(container, RB, last="3297", bid="3297", ask="3298")
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    # cost 334408 (average 3310.970297..., shown 3310.97029703); 101 x 3297 = 332997
    assert position["avg_price"] == "3310.97029703"
    assert position["unrealized_pnl"] == "-14110.00000000"  # was -14110.00000030
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert account["unrealized_pnl"] == "-14110.00000000"

    sell = await _order(client, trader, "SELL", 101)
    await _fill(container, sell, OrderSide.SELL, [(1, "3320"), (33, "3320"), (67, "3320")])
    [position] = (await client.get("/api/v1/positions", headers=trader.headers)).json()
    # 101 x 3320 - 334408 = 912, x 10; the rounded average made it 9119.99999970
    assert position["realized_pnl"] == "9120.00000000"
    assert Decimal(position["quantity"]) == 0
    account = (await client.get("/api/v1/account", headers=trader.headers)).json()
    assert account["realized_pnl"] == "9120.00000000"
    assert account["balance"] == "10009120.00000000"
