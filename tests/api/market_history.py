"""Helpers for market history tests: ticks into the PAPER market, bars as CSV."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from backend.app.container import AppContainer
from tests.api.conftest import Account

IF = "IF2412.CFFEX"


async def inject(
    client: httpx.AsyncClient, admin: Account, ticks: Sequence[tuple[str, str, int]]
) -> None:
    """(ISO datetime, last price, cumulative volume) ticks of IF2412, in order."""
    body = [
        {"symbol": IF, "last_price": price, "volume": volume, "datetime": moment}
        for moment, price, volume in ticks
    ]
    response = await client.post("/api/v1/market/ticks", json=body, headers=admin.headers)
    assert response.status_code == 202, response.text


async def settle(container: AppContainer) -> None:
    """Every tick injected so far aggregated, and every finished bar written."""
    await container.trading.market.flush()
    recorder = container.history.recorder
    assert recorder is not None
    await recorder.flush()


async def bars(client: httpx.AsyncClient, account: Account, **params: Any) -> list[dict[str, Any]]:
    """GET /market/bars; the bars."""
    response = await client.get("/api/v1/market/bars", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["bars"]
    return found


def minutes_csv(start: datetime, count: int, *, close_shift: Decimal = Decimal(0)) -> bytes:
    """`count` one-minute bars from `start`, with turnover and open interest columns."""
    lines = ["datetime,open,high,low,close,volume,turnover,open_interest"]
    for index in range(count):
        price = Decimal(3000) + Decimal("0.5") * (index % 40)
        close = price + close_shift
        moment = (start + timedelta(minutes=index)).isoformat()
        lines.append(
            f"{moment},{price},{max(price, close) + 1},{min(price, close) - 1},{close},"
            f"{index % 50},{index * 3},{7000 + index % 9}"
        )
    return ("\n".join(lines) + "\n").encode()
