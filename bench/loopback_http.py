"""A lean HTTP/1.1 keep-alive client for load generation on loopback.

httpx spends a few milliseconds of CPU per request in its connection pool; a load generator
sharing two cores with the server it measures must cost far less than the server, or it
measures itself. This client only writes requests and reads Content-Length answers, which is
all uvicorn sends for JSON.
"""

from __future__ import annotations

import asyncio


class LoopbackHTTP:
    """`size` keep-alive connections to one server, each used by one request at a time."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(size):
            self._idle.put_nowait(None)  # opened on first use

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request and return (status, body); a broken connection is replaced."""
        connection = await self._idle.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port)
            reader, writer = connection
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            head.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            return status, await reader.readexactly(length)
        except BaseException:
            if connection is not None:
                connection[1].close()
            connection = None
            raise
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        """Close every open connection."""
        for _ in range(self.size):
            connection = await self._idle.get()
            if connection is not None:
                connection[1].close()
