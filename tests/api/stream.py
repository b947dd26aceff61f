"""Helpers for WebSocket tests: a real uvicorn server in the test's loop, a JSON client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from backend.app.container import AppContainer
from backend.core.config import AppConfig
from backend.main import create_app
from backend.server import uvicorn_options

WAIT = 5.0


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve an already started `app` on a free loopback port, with the uvicorn settings
    `redfire serve` gives it; yields its WebSocket URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = uvicorn_options(container_of(app).config)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", **options)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"
    finally:
        server.force_exit = True  # do not wait for clients a test left open
        await server.shutdown(sockets=[sock])


@asynccontextmanager
async def started_app(
    make_config: Callable[..., AppConfig], **overrides: Any
) -> AsyncIterator[FastAPI]:
    """A second application (another replica) on the same database and Redis, started."""
    app = create_app(make_config(**overrides))
    async with app.router.lifespan_context(app):
        yield app


def container_of(app: FastAPI) -> AppContainer:
    """The app's components."""
    container: AppContainer = app.state.container
    return container


class WsClient:
    """A WebSocket client that reads JSON messages with timeouts."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any] | str) -> None:
        """Send a JSON object (or raw text)."""
        text = message if isinstance(message, str) else json.dumps(message)
        await self.connection.send(text)

    async def receive(self, wait: float = WAIT) -> dict[str, Any]:
        """The next message."""
        raw = await asyncio.wait_for(self.connection.recv(), wait)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def expect(self, topic: str, wait: float = WAIT) -> dict[str, Any]:
        """The next message, which must be of `topic`."""
        message = await self.receive(wait)
        assert message["topic"] == topic, message
        return message

    async def subscribe(self, *topics: str) -> dict[str, Any]:
        """Subscribe and wait for the answer."""
        await self.send({"op": "subscribe", "topics": list(topics)})
        return await self.expect("subscribed")

    async def close_code(self, wait: float = WAIT) -> int | None:
        """Read until the server closes; the code it closed with."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as closed:
            return None if closed.rcvd is None else closed.rcvd.code


@asynccontextmanager
async def ws_client(url: str, token: str | None = None, **kwargs: Any) -> AsyncIterator[WsClient]:
    """Connect, with `?token=` when given."""
    target = url if token is None else f"{url}?token={token}"
    async with connect(target, open_timeout=WAIT, close_timeout=1, **kwargs) as connection:
        yield WsClient(connection)


class StalledClient:
    """A raw WebSocket client that stops reading after the handshake: the slowest client.

    Its socket has a tiny receive buffer, so the server's writes back up quickly.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, url: str, token: str | None = None) -> StalledClient:
        """Open the connection (with `?token=` when given) and complete the handshake."""
        host_port, _, path = url.removeprefix("ws://").partition("/")
        host, port = host_port.split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        query = "" if token is None else f"?token={token}"
        writer.write(
            f"GET /{path}{query} HTTP/1.1\r\nHost: {host_port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send_frame_start(self, length: int, payload: bytes) -> None:
        """Announce a masked text frame of `length` bytes, and send only its first `payload`."""
        self.writer.write(b"\x81\xff" + struct.pack("!Q", length) + b"\x00\x00\x00\x00")
        self.writer.write(payload)  # masked with 0000: as written
        await self.writer.drain()

    async def close_code(self) -> int:
        """Read every frame the server sent until its close frame; the close code."""
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if first & 0x0F == 0x8:
                code: int = struct.unpack("!H", payload[:2])[0]
                return code

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()
