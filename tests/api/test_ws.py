"""WebSocket /api/v1/ws on a real uvicorn server: auth, subscriptions, privacy, seq numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.core.security.tokens import TokenCodec
from tests.api.conftest import MakeAccount
from tests.api.stream import WsClient, container_of, serve, started_app, ws_client
from tests.reliability.support import wait_until

IF = "IF2412.CFFEX"
RB = "rb2501.SHFE"
POLICY_VIOLATION = 1008


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app served by uvicorn on loopback."""
    async with serve(app) as url:
        yield url


def inject(container: AppContainer, symbol: str, last: str) -> None:
    """A tick on the PAPER market (it reaches subscribers through bridge, bus and hub)."""
    container.trading.market.paper_gateway(symbol).inject_tick(symbol, last_price=Decimal(last))


async def test_a_bad_token_is_closed_1008(ws_url: str) -> None:
    async with ws_client(ws_url, token="not-a-token") as client:
        assert await client.close_code() == POLICY_VIOLATION


async def test_an_expired_token_is_closed_1008(
    ws_url: str, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    past = datetime.now(UTC) - timedelta(days=1)
    codec = TokenCodec(container.config.security, container.config.secret, clock=lambda: past)
    token = codec.issue(user_id=trader.id, version=0).access_token
    async with ws_client(ws_url, token=token) as client:
        assert await client.close_code() == POLICY_VIOLATION


async def test_a_revoked_token_is_closed_1008(
    ws_url: str, client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    assert (await client.post("/api/v1/auth/logout", headers=trader.headers)).status_code == 204
    async with ws_client(ws_url, token=trader.access_token) as ws:
        assert await ws.close_code() == POLICY_VIOLATION


async def test_a_first_message_that_is_not_auth_is_closed_1008(
    ws_url: str, make_account: MakeAccount
) -> None:
    async with ws_client(ws_url) as client:
        await client.send({"op": "subscribe", "topics": [f"tick:{IF}"]})
        assert await client.close_code() == POLICY_VIOLATION


async def test_token_in_first_message_then_ticks_numbered_from_one(
    ws_url: str, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    async with ws_client(ws_url) as client:
        await client.send({"op": "auth", "token": trader.access_token})
        answer = await client.subscribe(f"tick:{IF}")
        assert answer == {"seq": 1, "topic": "subscribed", "data": {"topics": [f"tick:{IF}"]}}
        for seq, price in enumerate(("3501.0", "3501.2", "3501.4"), start=2):
            inject(container, IF, price)
            message = await client.expect("tick")
            assert message["seq"] == seq
            assert message["data"]["symbol"] == IF
            assert Decimal(message["data"]["last_price"]) == Decimal(price)
            assert Decimal(message["data"]["ask_price_1"]) == Decimal(price) + Decimal("0.2")


async def test_ticks_of_other_symbols_are_not_sent(
    ws_url: str, container: AppContainer, make_account: MakeAccount
) -> None:
    trader = await make_account()
    async with ws_client(ws_url, token=trader.access_token) as client:
        await client.subscribe(f"tick:{IF}")
        inject(container, RB, "3310")
        inject(container, IF, "3502.0")
        # Published in that order: had rb2501 been sent, it would come first.
        message = await client.expect("tick")
        assert message["data"]["symbol"] == IF
        await client.send({"op": "unsubscribe", "topics": [f"tick:{IF}"]})
        await client.expect("unsubscribed")
        await client.subscribe(f"tick:{RB}")
        inject(container, IF, "3502.2")
        inject(container, RB, "3311")
        assert (await client.expect("tick"))["data"]["symbol"] == RB


async def test_unknown_topics_and_bad_messages_get_error_messages(
    ws_url: str, make_account: MakeAccount
) -> None:
    trader = await make_account()
    async with ws_client(ws_url, token=trader.access_token) as client:
        await client.send({"op": "subscribe", "topics": ["tick:NOPE.CFFEX", "news", "order"]})
        error = await client.expect("error")
        assert error["seq"] == 1
        assert error["data"]["error"] == "unknown_topic"
        assert error["data"]["topics"] == ["tick:NOPE.CFFEX", "news"]
        assert (await client.expect("subscribed"))["data"] == {"topics": ["order"]}
        await client.send("{not json")
        assert (await client.expect("error"))["data"]["error"] == "invalid_json"
        await client.send({"op": "dance"})
        assert (await client.expect("error"))["data"]["error"] == "invalid_message"
        await client.send(["subscribe"])  # type: ignore[arg-type]
        assert (await client.expect("error"))["data"]["error"] == "invalid_message"
        answer = await client.subscribe(f"tick:{IF}")  # still connected and numbering
        assert answer["seq"] == 6
        await client.send({"op": "ping"})
        assert await client.expect("pong") == {"seq": 7, "topic": "pong", "data": {}}


async def test_orders_and_trades_reach_only_their_owner(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    owner, other = await make_account(), await make_account()
    async with (
        ws_client(ws_url, token=owner.access_token) as mine,
        ws_client(ws_url, token=other.access_token) as theirs,
    ):
        await mine.subscribe("order", "trade")
        await theirs.subscribe(f"tick:{RB}")
        order = {"symbol": IF, "side": "BUY", "order_type": "market", "quantity": 1}
        response = await client.post("/api/v1/orders", json=order, headers=owner.headers)
        assert response.status_code == 201, response.text
        order_id = response.json()["id"]
        await _until_filled_and_traded(mine, order_id)
        # Everything about the order was dispatched before this tick: `theirs` gets it first.
        inject(container, RB, "3312")
        assert (await theirs.expect("tick"))["data"]["symbol"] == RB


async def _until_filled_and_traded(client: WsClient, order_id: int) -> None:
    filled = traded = False
    while not (filled and traded):
        message = await client.receive()
        data = message["data"]
        if message["topic"] == "trade":
            assert data["order_id"] == order_id
            assert Decimal(data["quantity"]) == 1
            traded = True
        else:
            assert message["topic"] == "order"
            assert data["id"] == order_id
            filled = data["status"] == "filled"


async def test_a_streaming_connection_closes_1008_once_its_token_is_revoked(
    ws_url: str, client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    async with ws_client(ws_url, token=trader.access_token) as ws:
        await ws.subscribe(f"tick:{IF}")  # authenticated and streaming
        logout = await client.post("/api/v1/auth/logout", headers=other.headers)
        assert logout.status_code == 204
        await ws.subscribe(f"tick:{RB}")  # another user's logout leaves this stream open
        assert (await client.post("/api/v1/auth/logout", headers=trader.headers)).status_code == 204
        assert await ws.close_code() == POLICY_VIOLATION


async def test_a_new_password_closes_the_users_streams(
    ws_url: str, client: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    trader = await make_account()
    async with ws_client(ws_url, token=trader.access_token) as ws:
        await ws.subscribe(f"tick:{IF}")
        changed = await client.patch(
            "/api/v1/users/me",
            json={"password": "a-brand-new-password", "current_password": trader.password},
            headers=trader.headers,
        )
        assert changed.status_code == 200
        assert await ws.close_code() == POLICY_VIOLATION


async def test_connections_awaiting_authentication_are_bounded_per_address(
    make_config: Callable[..., AppConfig], make_account: MakeAccount
) -> None:
    """Two may wait for their `auth` message at once (a 30 s timeout here); a third from the
    same address is closed 1008 at once, and there is room again once one authenticates."""
    trader = await make_account()
    stream = {"ws_max_pending_per_client": 2, "ws_auth_timeout_seconds": 30}
    async with started_app(make_config, stream=stream) as app, serve(app) as url:
        pending = container_of(app).stream.hub.pending

        async def both_waiting() -> bool:
            return pending.count("127.0.0.1") == 2

        async with AsyncExitStack() as stack:
            first, _ = [await stack.enter_async_context(ws_client(url)) for _ in range(2)]
            await wait_until(both_waiting, within=5, what="two connections await auth")
            async with ws_client(url) as refused:
                assert await refused.close_code(wait=5) == POLICY_VIOLATION
            await first.send({"op": "auth", "token": trader.access_token})
            await first.subscribe("order")
            async with ws_client(url) as admitted:
                await admitted.send({"op": "auth", "token": trader.access_token})
                assert (await admitted.subscribe("order"))["seq"] == 1
