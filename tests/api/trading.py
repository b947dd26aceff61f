"""Helpers for trading tests: drive the PAPER market and wait for the books to settle."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from backend.core.container import AppContainer


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
