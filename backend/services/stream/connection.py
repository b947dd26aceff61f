"""One WebSocket client of the hub: its bounded send queue, its writer, its subscriptions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol

from backend.core.monitoring.metrics import WS_DROPPED_CLIENTS

# WebSocket close codes (RFC 6455 section 7.4.1 and the IANA registry).
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class Socket(Protocol):
    """What the hub needs of a WebSocket (Starlette's WebSocket satisfies it)."""

    async def receive(self) -> MutableMapping[str, Any]:
        """The next ASGI message: `websocket.receive` or `websocket.disconnect`."""

    async def send_text(self, data: str) -> None:
        """Send one text frame."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Send a close frame."""


def encode(data: Mapping[str, Any]) -> str:
    """Compact JSON, encoded once per event however many clients receive it."""
    return json.dumps(data, separators=(",", ":"))


class ClientConnection:
    """A connected client. `enqueue` never blocks: a full queue drops the client (1013)."""

    def __init__(self, socket: Socket, queue_size: int) -> None:
        self.socket = socket
        self.user_id: int | None = None
        # The client address counted among the pending connections until authenticated.
        self.pending_client: str | None = None
        self.symbols: set[str] = set()
        self.portfolio: set[str] = set()  # `position` and/or `account`, when subscribed
        self.seq = 0
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(queue_size)
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.tasks: list[asyncio.Task[Any]] = []
        self.expiry: asyncio.TimerHandle | None = None
        # Checks the connection's token again; set once it is authenticated.
        self.reauthenticate: Callable[[], Awaitable[object]] | None = None

    @property
    def closing(self) -> bool:
        """True once a close was requested or the client went away."""
        return self.closed.done()

    def request_close(self, code: int | None) -> None:
        """End the connection; `code` None means the client is already gone."""
        if not self.closed.done():
            self.closed.set_result(code)

    def enqueue(self, topic: str, payload: str) -> None:
        """Queue a message (`payload` is JSON); drop the client when its queue is full."""
        if self.closed.done():
            return
        try:
            self.queue.put_nowait((topic, payload))
        except asyncio.QueueFull:
            WS_DROPPED_CLIENTS.inc()
            self.request_close(TRY_AGAIN_LATER)

    def send_error(self, code: str, detail: str, **extra: Any) -> None:
        """Queue an `error` message: `{"error": code, "detail": ..., ...}`."""
        self.enqueue("error", encode({"error": code, "detail": detail, **extra}))

    async def write_forever(self) -> None:
        """Send queued messages in order, numbering them from 1."""
        queue, socket = self.queue, self.socket
        while True:
            topic, payload = await queue.get()
            self.seq += 1
            await socket.send_text(f'{{"seq":{self.seq},"topic":"{topic}","data":{payload}}}')

    async def stop_tasks(self) -> None:
        """Cancel the reader, writer and expiry timer, and wait for them."""
        if self.expiry is not None:
            self.expiry.cancel()
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
