"""StreamHub with fake sockets: auth, routing, numbering, slow clients, expiry and stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from backend.services.stream.bus import StreamEvent
from backend.services.stream.hub import Identity, StreamHub
from tests.services.stream.conftest import WAIT, FakeSocket, authenticate

IF = "IF2412.CFFEX"
ALICE = "alice-token"
Serve = Callable[..., FakeSocket]


def tick(price: str, symbol: str = IF) -> StreamEvent:
    """A tick event as the publisher makes it."""
    return StreamEvent("tick", None, symbol, {"symbol": symbol, "last_price": price})


@pytest.fixture
async def hub() -> AsyncIterator[StreamHub]:
    """A hub that lists IF2412 only, with a queue of 3 and a short auth timeout."""
    hub = StreamHub(is_listed=lambda symbol: symbol == IF, queue_size=3, auth_timeout=0.05)
    yield hub
    await hub.stop()


@pytest.fixture
async def connect(hub: StreamHub) -> AsyncIterator[Serve]:
    """Start serving a fake socket: `connect(token=..., block_after=...)`."""
    tasks: list[asyncio.Task[None]] = []

    def factory(token: str | None = ALICE, **kwargs: Any) -> FakeSocket:
        auth = kwargs.pop("authenticate", authenticate)
        socket = FakeSocket(**kwargs)
        socket.task = asyncio.create_task(hub.serve(socket, token=token, authenticate=auth))
        tasks.append(socket.task)
        return socket

    yield factory
    await hub.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)


async def subscribed(socket: FakeSocket, *topics: str) -> dict[str, Any]:
    """Subscribe and return the answer."""
    socket.client_sends({"op": "subscribe", "topics": list(topics)})
    return await socket.next()


@pytest.mark.parametrize("token", ["forged", ""])
async def test_a_bad_token_is_closed_1008(connect: Serve, token: str) -> None:
    assert await connect(token=token or None).close_code() == 1008


async def test_no_auth_message_in_time_is_closed_1008(connect: Serve) -> None:
    assert await connect(token=None).close_code() == 1008


async def test_auth_by_first_message(connect: Serve, hub: StreamHub) -> None:
    socket = connect(token=None)
    socket.client_sends({"op": "auth", "token": "bob-token"})
    assert (await subscribed(socket, "order"))["seq"] == 1
    hub.dispatch(StreamEvent("order", 2, IF, {"id": 7}))
    assert await socket.next() == {"seq": 2, "topic": "order", "data": {"id": 7}}


async def test_an_authenticator_failure_is_closed_1011(connect: Serve) -> None:
    async def broken(token: str) -> Identity:
        raise ConnectionError("database down")

    assert await connect(authenticate=broken).close_code() == 1011


async def test_users_get_only_their_own_events_and_subscribed_ticks(
    connect: Serve, hub: StreamHub
) -> None:
    alice, bob = connect(), connect(token="bob-token")
    await subscribed(alice, f"tick:{IF}")
    await subscribed(bob, "trade")
    hub.dispatch(StreamEvent("trade", 1, IF, {"id": 1}))
    hub.dispatch(StreamEvent("strategy", 2, None, {"state": "running"}))
    hub.dispatch(tick("3500"))
    hub.dispatch(tick("3300", symbol="rb2501.SHFE"))
    assert [await alice.next() for _ in range(2)] == [
        {"seq": 2, "topic": "trade", "data": {"id": 1}},
        {"seq": 3, "topic": "tick", "data": {"symbol": IF, "last_price": "3500"}},
    ]
    assert await bob.next() == {"seq": 2, "topic": "strategy", "data": {"state": "running"}}
    alice.client_sends({"op": "unsubscribe", "topics": [f"tick:{IF}"]})
    assert (await alice.next())["topic"] == "unsubscribed"
    hub.dispatch(tick("3500.2"))
    hub.dispatch(StreamEvent("order", 1, IF, {"id": 2}))
    assert (await alice.next())["topic"] == "order"  # the tick was not sent


async def test_the_same_tick_from_two_replicas_is_sent_once(connect: Serve, hub: StreamHub) -> None:
    alice = connect()
    await subscribed(alice, f"tick:{IF}")
    hub.dispatch(tick("3500"))
    hub.dispatch(tick("3500"))
    hub.dispatch(tick("3500.2"))
    assert (await alice.next())["data"]["last_price"] == "3500"
    assert (await alice.next())["data"]["last_price"] == "3500.2"


async def test_malformed_messages_get_errors_and_the_connection_lives(connect: Serve) -> None:
    alice = connect()
    alice.client_sends("{oops")
    assert (await alice.next())["data"]["error"] == "invalid_json"
    alice.client_sends({"op": "subscribe", "topics": []})
    assert (await alice.next())["data"]["error"] == "invalid_message"
    alice.client_sends({"op": "auth", "token": "alice-token"})
    assert (await alice.next())["data"]["error"] == "already_authenticated"
    alice.incoming.put_nowait({"type": "websocket.receive", "bytes": b"\x00"})
    assert (await alice.next())["data"]["error"] == "invalid_message"
    answer = await subscribed(alice, "tick:NOPE.X", f"tick:{IF}")
    assert answer["data"] == {
        "error": "unknown_topic",
        "detail": "topics are tick:<listed symbol>, order, trade, strategy, optimization, "
        "position or account",
        "topics": ["tick:NOPE.X"],
    }
    assert await alice.next() == {
        "seq": 6,
        "topic": "subscribed",
        "data": {"topics": [f"tick:{IF}"]},
    }


def _dropped() -> float:
    return REGISTRY.get_sample_value("redfire_ws_dropped_clients_total") or 0.0


async def test_a_slow_client_is_dropped_1013_and_others_keep_receiving(
    connect: Serve, hub: StreamHub
) -> None:
    fast, slow = connect(), connect(token="bob-token", block_after=1)
    await subscribed(fast, f"tick:{IF}")
    await subscribed(slow, f"tick:{IF}")  # its only message: then it stops reading
    dropped = _dropped()
    prices = [f"35{n:02d}" for n in range(6)]
    received = []
    for price in prices:
        hub.dispatch(tick(price))
        received.append(await fast.next())
    assert await slow.close_code() == 1013
    assert _dropped() == dropped + 1
    assert [m["seq"] for m in received] == [2, 3, 4, 5, 6, 7]
    assert [m["data"]["last_price"] for m in received] == prices


async def test_an_expired_token_closes_the_connection_1008(connect: Serve) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=50)

    async def short_lived(token: str) -> Identity:
        return Identity(1, expires_at=soon)

    socket = connect(authenticate=short_lived)
    await subscribed(socket, "order")
    assert await socket.close_code() == 1008


async def test_a_client_that_leaves_is_forgotten(connect: Serve, hub: StreamHub) -> None:
    alice = connect()
    await subscribed(alice, f"tick:{IF}")
    alice.client_leaves()
    assert alice.task is not None
    await asyncio.wait_for(alice.task, WAIT)
    assert hub.connection_count == 0
    assert not alice.closed.done()  # nobody left to send a close frame to
    hub.dispatch(tick("3500"))


async def test_stop_closes_everyone_1001_and_refuses_newcomers(
    connect: Serve, hub: StreamHub
) -> None:
    alice, waiting = connect(), connect(token=None)
    await subscribed(alice, "order")
    await hub.stop()
    assert await alice.close_code() == 1001
    assert await waiting.close_code() in (1001, 1008)
    assert hub.connection_count == 0
    assert await connect().close_code() == 1001
