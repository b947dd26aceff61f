"""Contract helpers: the error shape, and a `requests` session that reaches the session's app.

The session-wide app lives on pytest-asyncio's event loop (its database pools and Redis
connections are bound to it). schemathesis calls APIs through `requests`, synchronously, and
its own ASGI transport would drive the app from another thread's loop. So the fuzzer runs in a
worker thread and `LoopBridgeAdapter` hands each request back to the app's loop.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import Any

import httpx
import requests
import requests.adapters
from sqlalchemy import func, select
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

from backend.app.container import AppContainer
from backend.core.database.base import Base

ERROR_KEYS = {"error", "detail", "request_id"}
REQUEST_TIMEOUT = 60.0


def assert_error_shape(status: int, headers: Mapping[str, str], body: Any) -> None:
    """A 4xx/5xx answer in the contract's shape, naming the request id it was sent with."""
    assert 400 <= status < 600, status
    assert isinstance(body, dict), body
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["error"], str), body
    assert body["error"], body
    assert body["error"] == body["error"].lower().replace(" ", "_"), body
    assert body["request_id"] == headers.get("x-request-id"), (body, dict(headers))
    if status == 401:
        assert headers.get("www-authenticate") == "Bearer", dict(headers)
    if status == 429:
        assert headers.get("retry-after", "").isdigit(), dict(headers)


def assert_error_response(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """`response` is an error of one of `statuses` in the contract's shape; returns its body."""
    assert response.status_code in statuses, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert_error_shape(response.status_code, response.headers, body)
    return body


class LoopBridgeAdapter(requests.adapters.HTTPAdapter):
    """A `requests` adapter that runs each request on `loop` through the app, in-process."""

    def __init__(self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.http = http
        self.loop = loop

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Forward the prepared request as sent: same method, URL, header octets and body."""
        body = request.body
        content = body.encode() if isinstance(body, str) else (body or b"")
        assert isinstance(content, bytes), type(body)
        # Header values travel as latin-1 octets, exactly as `requests` would put them on the wire.
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]
        call = self.http.request(
            str(request.method), str(request.url), headers=headers, content=content
        )
        answer = asyncio.run_coroutine_threadsafe(call, self.loop).result(REQUEST_TIMEOUT)
        raw = HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
        )
        return self.build_response(request, raw)


def bridged_session(http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> requests.Session:
    """A `requests` session whose every request is served by `http`'s app on `loop`."""
    session = requests.Session()
    adapter = LoopBridgeAdapter(http, loop)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# Written by the replicas' heartbeats on their own schedule, never by a request.
HEARTBEAT_TABLES = frozenset({"replicas"})


async def row_counts(container: AppContainer) -> dict[str, int]:
    """The number of rows in every table a request can write.

    The bar recorder's forming bars (left by earlier ticks) are written first: it would
    otherwise store them on its own timer between two counts, whatever the request did."""
    if container.history.recorder is not None:
        await container.history.recorder.write_all()
    counts: dict[str, int] = {}
    async with container.database.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in HEARTBEAT_TABLES:
                continue
            counts[table.name] = await session.scalar(select(func.count()).select_from(table)) or 0
    return counts
