"""Fakes for hub tests: a scriptable WebSocket and a token table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from backend.core.errors import AuthenticationError
from backend.services.stream.hub import Identity

WAIT = 5.0


class FakeSocket:
    """A WebSocket whose client is the test; sends block after `block_after` messages."""

    def __init__(self, block_after: int | None = None) -> None:
        self.incoming: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.block_after = block_after
        self.sent_count = 0
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> MutableMapping[str, Any]:
        """What the client sends next."""
        return await self.incoming.get()

    async def send_text(self, data: str) -> None:
        """Deliver to the test, or block forever once `block_after` were sent."""
        if self.block_after is not None and self.sent_count >= self.block_after:
            await asyncio.Future()  # a client that never reads
        self.sent_count += 1
        self.sent.put_nowait(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Record the close code."""
        if not self.closed.done():
            self.closed.set_result(code)

    def client_sends(self, message: Any) -> None:
        """The client sends a JSON text frame (or raw text when given a str)."""
        text = message if isinstance(message, str) else json.dumps(message)
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def client_leaves(self) -> None:
        """The client disconnects."""
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async def next(self) -> dict[str, Any]:
        """The next message the server sent."""
        return await asyncio.wait_for(self.sent.get(), WAIT)

    async def close_code(self) -> int:
        """The code the server closed with."""
        return await asyncio.wait_for(asyncio.shield(self.closed), WAIT)


TOKENS = {"alice-token": Identity(1), "bob-token": Identity(2)}


async def authenticate(token: str) -> Identity:
    """Tokens from TOKENS; anything else is refused like a bad JWT."""
    identity = TOKENS.get(token)
    if identity is None:
        raise AuthenticationError("the token is invalid", code="invalid_token")
    return identity
