"""The `position` and `account` topics: a subscriber sees its own positions and account change
after each fill and on mark-to-market, in `seq` order with the order and trade events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from tests.api.conftest import Account, MakeAccount
from tests.api.stream import WsClient, serve, ws_client
from tests.api.trading import quote

IF = "IF2412.CFFEX"
MARKET_BUY = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 2}


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app served by uvicorn on loopback."""
    async with serve(app) as url:
        yield url


class Reader:
    """Reads a connection's messages, checking that `seq` rises by one each time."""

    def __init__(self, ws: WsClient, seq: int) -> None:
        self.ws = ws
        self.seq = seq
        self.topics: list[str] = []
        self.log: list[tuple[str, Any]] = []

    async def until(self, topic: str, **expected: Any) -> dict[str, Any]:
        """Read on to the next `topic` message whose data has the `expected` values."""
        while True:
            try:
                message = await self.ws.receive()
            except TimeoutError:
                raise AssertionError(f"no {topic} {expected} after {self.log}") from None
            self.log.append((message["topic"], message["data"]))
            self.seq += 1
            assert message["seq"] == self.seq, message
            self.topics.append(message["topic"])
            data: dict[str, Any] = message["data"]
            if message["topic"] == topic and all(
                _same(data[name], value) for name, value in expected.items()
            ):
                return data


def _same(shown: Any, expected: Any) -> bool:
    return Decimal(shown) == expected if isinstance(expected, Decimal) else shown == expected


async def _http(client: httpx.AsyncClient, trader: Account, path: str) -> Any:
    response = await client.get(path, headers=trader.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_positions_and_account_follow_fills_and_the_market(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    async with ws_client(ws_url, token=trader.access_token) as ws:
        assert (await ws.subscribe("position", "account"))["data"]["topics"] == [
            "position",
            "account",
        ]
        stream = Reader(ws, seq=1)
        first = await stream.until("account")  # a subscriber starts from the current state
        assert first == await _http(client, trader, "/api/v1/account")
        placed = await client.post("/api/v1/orders", json=MARKET_BUY, headers=trader.headers)
        assert placed.status_code == 201, placed.text
        position = await stream.until("position", quantity=Decimal("2"))
        assert stream.topics.index("trade") < len(stream.topics) - 1  # the fill came first
        account = await stream.until(
            "account", margin=Decimal("2100000")
        )  # 2 x 3500.0 (last) x 300
        assert [position] == await _http(client, trader, "/api/v1/positions")
        assert account == await _http(client, trader, "/api/v1/account")

        # Marked to the market: 2 lots x (3510.2 - 3500.2) x 300 = 6000
        await quote(container, IF, last="3510.2", bid="3510.0", ask="3510.4")
        marked = await stream.until("position", unrealized_pnl=Decimal("6000"))
        assert marked["quantity"] == position["quantity"]
        account = await stream.until("account", unrealized_pnl=Decimal("6000"))
        assert account == await _http(client, trader, "/api/v1/account")


async def test_only_subscribers_get_them_and_only_their_own(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    async with (
        ws_client(ws_url, token=trader.access_token) as plain,
        ws_client(ws_url, token=other.access_token) as theirs,
    ):
        await plain.subscribe("order", "trade")
        await theirs.subscribe("position", "account")
        their_stream = Reader(theirs, seq=1)
        await their_stream.until("account")
        placed = await client.post("/api/v1/orders", json=MARKET_BUY, headers=trader.headers)
        assert placed.status_code == 201, placed.text
        plain_stream = Reader(plain, seq=1)
        await plain_stream.until("order", status="filled")
        await quote(container, IF, last="3510.2", bid="3510.0", ask="3510.4")
        # Each answers a ping next: nothing of the trader's portfolio was queued before it.
        for ws, stream in ((plain, plain_stream), (theirs, their_stream)):
            await ws.send({"op": "ping"})
            await stream.until("pong")
        assert "position" not in plain_stream.topics + their_stream.topics
        assert their_stream.topics.count("account") == 1
