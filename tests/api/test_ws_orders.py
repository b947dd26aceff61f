"""The live stream shows every order of its user: rejected ones as well (by risk, with the
reason's detail, and by the gateway), which no gateway event would ever announce."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.models.enums import UserRole
from tests.api.conftest import MakeAccount
from tests.api.stream import serve, ws_client
from tests.api.trading import quote

IF = "IF2412.CFFEX"
LIMIT_BUY = {"symbol": IF, "side": "BUY", "order_type": "limit", "quantity": 5, "price": "3400"}


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app served by uvicorn on loopback."""
    async with serve(app) as url:
        yield url


async def test_a_risk_rejected_order_reaches_its_owner_with_the_detail(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    admin = await make_account(role=UserRole.ADMIN)
    limits = {"max_order_quantity": 4}
    assert (await client.put("/api/v1/admin/risk", json=limits, headers=admin.headers)).is_success
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    async with (
        ws_client(ws_url, token=trader.access_token) as mine,
        ws_client(ws_url, token=other.access_token) as theirs,
    ):
        await mine.subscribe("order")
        await theirs.subscribe("order")
        response = await client.post("/api/v1/orders", json=LIMIT_BUY, headers=trader.headers)
        assert response.json()["status"] == "rejected", response.text
        pushed = await mine.expect("order")
        assert pushed["data"] == response.json()
        assert pushed["data"]["reject_detail"] == {
            "rule": "max_order_quantity",
            "limit": "4",
            "value": "5",
        }
        # The other user hears nothing of it: their next message is their own answer.
        await theirs.send({"op": "ping"})
        assert (await theirs.receive())["topic"] == "pong"


async def test_an_order_the_gateway_refuses_reaches_its_owner(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    await quote(container, IF, last="3500.0", bid="3500.0", ask="3500.2")
    gateway = container.trading.market.paper_gateway()
    async with ws_client(ws_url, token=trader.access_token) as ws:
        await ws.subscribe("order")
        gateway.set_connected(False)
        try:
            response = await client.post("/api/v1/orders", json=LIMIT_BUY, headers=trader.headers)
        finally:
            gateway.set_connected(True)
        assert response.json()["status"] == "rejected", response.text
        pushed = await ws.expect("order")
        assert pushed["data"] == response.json()
        assert pushed["data"]["reject_reason"].startswith("gateway_error")
        assert pushed["data"]["reject_detail"] is None
