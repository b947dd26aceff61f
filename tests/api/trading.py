"""Helpers for trading tests: drive the PAPER market and wait for the books to settle."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from backend.app.container import AppContainer


async def settle(container: AppContainer) -> None:
    """Wait until every gateway event so far has reached the database."""
    async with asyncio.timeout(10):
        await container.trading.market.flush()
        await container.trading.events.drain()


async def quote(
    container: AppContainer,
    symbol: str,
    *,
    last: str,
    bid: str | None = None,
    ask: str | None = None,
) -> None:
    """Publish a tick on the PAPER market and wait for its effects."""
    gateway = container.trading.market.paper_gateway(symbol)
    gateway.inject_tick(
        symbol,
        last_price=Decimal(last),
        bid_price=Decimal(bid) if bid is not None else None,
        ask_price=Decimal(ask) if ask is not None else None,
    )
    await settle(container)


async def resting_buy(
    client: httpx.AsyncClient,
    container: AppContainer,
    headers: dict[str, str],
    *,
    price: str = "3400",
    symbol: str = "IF2412.CFFEX",
) -> dict[str, Any]:
    """A one-lot limit buy under a 3500.0 / 3500.2 market, placed and settled: it rests."""
    await quote(container, symbol, last="3500.0", bid="3500.0", ask="3500.2")
    body = {"symbol": symbol, "side": "BUY", "order_type": "limit", "quantity": 1, "price": price}
    placed = await client.post("/api/v1/orders", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    await settle(container)
    order: dict[str, Any] = placed.json()
    return order
