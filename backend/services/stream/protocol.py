"""What WebSocket clients may send: auth, subscribe, unsubscribe and ping, checked before use."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from backend.services.stream.connection import ClientConnection, Socket, encode

MAX_MESSAGE_CHARS = 16_384
MAX_TOPICS = 100
PRIVATE_TOPICS = frozenset({"order", "trade", "strategy", "optimization"})
# The user's own as well, but sent only to connections that subscribe (they are refreshed on
# every mark-to-market: services/stream/portfolio.py).
PORTFOLIO_TOPICS = frozenset({"position", "account"})
TICK_PREFIX = "tick:"

TopicName = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class AuthRequest(BaseModel):
    """`{"op": "auth", "token": ...}`: the first message when no `?token=` was given."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TopicsRequest(BaseModel):
    """`{"op": "subscribe" | "unsubscribe", "topics": [...]}`."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["subscribe", "unsubscribe"]
    topics: list[TopicName] = Field(min_length=1, max_length=MAX_TOPICS)


# (subscribe?, symbols, portfolio topics) to apply to the connection's subscriptions
SubscriptionChange = tuple[bool, list[str], list[str]]


def _parse(message: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object, or None and an error code) of a `websocket.receive` message."""
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        return None, "invalid_message"
    try:
        value = json.loads(text)
    except ValueError:
        return None, "invalid_json"
    return (value, None) if isinstance(value, dict) else (None, "invalid_message")


class ClientRequests:
    """Turns client messages into subscription changes and answers."""

    def __init__(self, is_listed: Callable[[str], bool]) -> None:
        self._is_listed = is_listed

    async def read_auth(self, socket: Socket) -> str | None:
        """The token of an `auth` first message; None for anything else or a disconnect."""
        message = await socket.receive()
        if message["type"] != "websocket.receive":
            return None
        value, _ = _parse(message)
        try:
            return AuthRequest.model_validate(value).token
        except ValidationError:
            return None

    def handle(
        self, connection: ClientConnection, message: Mapping[str, Any]
    ) -> SubscriptionChange | None:
        """Answer one client message; the subscription change it asks for, if any."""
        value, error = _parse(message)
        if value is None:
            code = error or "invalid_message"
            detail = "not JSON" if code == "invalid_json" else "one JSON object per text frame"
            connection.send_error(code, detail)
            return None
        if value.get("op") == "auth":
            connection.send_error("already_authenticated", "this connection is authenticated")
            return None
        if value.get("op") == "ping":
            # Browsers cannot send protocol pings: an application-level liveness check.
            connection.enqueue("pong", encode({}))
            return None
        try:
            request = TopicsRequest.model_validate(value)
        except ValidationError as exc:
            errors = [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            connection.send_error("invalid_message", "expected {op, topics}", errors=errors)
            return None
        return self._change(connection, request)

    def _change(self, connection: ClientConnection, request: TopicsRequest) -> SubscriptionChange:
        subscribe = request.op == "subscribe"
        accepted: list[str] = []
        symbols: list[str] = []
        portfolio: list[str] = []
        unknown: list[str] = []
        for topic in dict.fromkeys(request.topics):
            symbol = topic.removeprefix(TICK_PREFIX) if topic.startswith(TICK_PREFIX) else None
            if topic in PRIVATE_TOPICS:
                accepted.append(topic)
            elif topic in PORTFOLIO_TOPICS:
                accepted.append(topic)
                portfolio.append(topic)
            elif symbol and (not subscribe or self._is_listed(symbol)):
                accepted.append(topic)
                symbols.append(symbol)
            else:
                unknown.append(topic)
        if unknown:
            connection.send_error(
                "unknown_topic",
                "topics are tick:<listed symbol>, order, trade, strategy, optimization, "
                "position or account",
                topics=unknown,
            )
        answer = "subscribed" if subscribe else "unsubscribed"
        connection.enqueue(answer, encode({"topics": accepted}))
        return subscribe, symbols, portfolio
