"""Helpers for performance tests: orders that rest, fills booked on them at chosen prices."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Protocol

import httpx
from sqlalchemy import select

from backend.app.container import AppContainer
from backend.domain.market import TradeFill
from backend.models.enums import OrderSide
from backend.models.order import Order
from tests.api.trading import settle

# Prices an order rests at (inside the price band of a market at the contracts' start price).
RESTING = {
    "IF2412.CFFEX": ("3400", "3800"),
    "rb2501.SHFE": ("3000", "3600"),
    "BTCUSDT.GLOBAL": ("56000", "64000"),
}
_trade_ids = count(1)


class HasHeaders(Protocol):
    """A caller: its Authorization header."""

    @property
    def headers(self) -> dict[str, str]: ...


async def fill(
    client: httpx.AsyncClient,
    container: AppContainer,
    trader: HasHeaders,
    *,
    symbol: str,
    side: str,
    quantity: str,
    price: str,
    commission: str = "0",
    at: datetime | None = None,
    strategy_id: int | None = None,
) -> int:
    """Place a resting limit order and book one fill of all of it at `price`; its order id."""
    buy_at, sell_at = RESTING[symbol]
    body = {"symbol": symbol, "side": side, "order_type": "limit", "quantity": quantity,
            "price": buy_at if side == "BUY" else sell_at, "strategy_id": strategy_id}  # fmt: skip
    placed = await client.post("/api/v1/orders", json=body, headers=trader.headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] != "rejected", placed.text
    order_id = int(placed.json()["id"])
    await settle(container)
    async with container.database.session() as session:
        vt_orderid = await session.scalar(select(Order.vt_orderid).where(Order.id == order_id))
    assert vt_orderid is not None
    await container.trading.events.on_event(
        TradeFill(
            vt_tradeid=f"{vt_orderid}-perf-{next(_trade_ids)}",
            vt_orderid=vt_orderid,
            symbol=symbol,
            gateway="PAPER",
            side=OrderSide(side),
            price=Decimal(price),
            quantity=Decimal(quantity),
            commission=Decimal(commission),
            trade_time=at or datetime.now(UTC),
        )
    )
    await settle(container)
    return order_id
