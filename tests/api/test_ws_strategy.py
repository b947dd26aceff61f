"""The WebSocket `strategy` topic: the owner hears a strategy start, log its signals, report its
position after a fill, stop, and fail; nobody else hears any of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app.container import AppContainer
from tests.api.conftest import MakeAccount
from tests.api.stream import WsClient, serve, ws_client
from tests.api.test_strategy_trading import _feed, _start_strategy

IF = "IF2412.CFFEX"


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app served by uvicorn on loopback."""
    async with serve(app) as url:
        yield url


async def _strategy_events(ws: WsClient, until: str) -> list[dict[str, Any]]:
    """The `strategy` messages up to and including the first `until` event."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["event"] != until:
        message = await ws.receive()
        if message["topic"] == "strategy":
            events.append(message["data"])
    return events


async def test_the_owner_hears_start_log_variables_and_stop(
    ws_url: str, client: httpx.AsyncClient, container: AppContainer, make_account: MakeAccount
) -> None:
    trader, other = await make_account(), await make_account()
    async with (
        ws_client(ws_url, token=trader.access_token) as mine,
        ws_client(ws_url, token=other.access_token) as theirs,
    ):
        # The server authenticates after the handshake: a pong says it knows the trader.
        await mine.send({"op": "ping"})
        assert (await mine.receive())["topic"] == "pong"
        strategy_id = await _start_strategy(client, trader)
        [started] = await _strategy_events(mine, "started")
        about = {"strategy_id": strategy_id, "symbol": IF, "class_name": "MovingAverageStrategy"}
        assert started == {**about, "event": "started", "replica": container.config.replica_id}
        await _feed(container)
        events = await _strategy_events(mine, "variables")
        [log] = [event for event in events if event["event"] == "log"]
        assert log == {**about, "event": "log", "message": "golden cross at 3502: buy 1"}
        assert Decimal(events[-1]["variables"]["position"]) == 1
        assert events[-1]["running"] is True
        stopped = await client.post(
            f"/api/v1/strategies/{strategy_id}/stop", headers=trader.headers
        )
        assert stopped.status_code == 200, stopped.text
        assert (await _strategy_events(mine, "stopped"))[-1]["strategy_id"] == strategy_id
        await theirs.send({"op": "ping"})
        assert (await theirs.receive())["topic"] == "pong"  # nothing of the trader's before it
