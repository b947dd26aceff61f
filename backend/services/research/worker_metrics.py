"""A `redfire worker`'s /metrics: the research metrics of its runs, for Prometheus.

A worker has no web server; this answers GET /metrics only, with the API's rule: METRICS__TOKEN
as a bearer token when set, and nothing without one in production.
"""

from __future__ import annotations

import asyncio
import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.core.config.settings import AppConfig

_HEAD_LIMIT = 16_384
_READ_SECONDS = 5.0


def authorized(config: AppConfig, authorization: str) -> bool:
    """The request may read the metrics (the API's `require_metrics_token`)."""
    if config.metrics_open:
        return True
    expected = config.metrics.token
    scheme, _, supplied = authorization.partition(" ")
    return (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode())
    )


def _response(status: str, body: bytes, content_type: str = "text/plain") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer(config: AppConfig, head: bytes) -> bytes:
    """The response to one request's head."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    if method != "GET" or path != "/metrics":
        return _response("404 Not Found", b"GET /metrics\n")
    if not authorized(config, headers.get("authorization", "")):
        return _response("401 Unauthorized", b"a metrics token is required\n")
    return _response("200 OK", generate_latest(), CONTENT_TYPE_LATEST)


async def serve_metrics(config: AppConfig, port: int) -> asyncio.Server:
    """Listen on `port` (all interfaces: Prometheus scrapes the pod)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_SECONDS)
            writer.write(answer(config, head[:_HEAD_LIMIT]))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "0.0.0.0", port, limit=_HEAD_LIMIT)  # noqa: S104
